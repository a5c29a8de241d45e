// One ListActors page, computed the way upstream's ateredis.ListActors computes it
// (cmd/ateapi/internal/store/ateredis/ateredis.go, substrate 86e138f6): masters in address
// order, SCAN on each with COUNT = what the page still lacks, a token naming the shard and its
// SCAN cursor. Its bugs are reproduced on purpose, because clients meet them on real clusters:
//
// - A page that fills on the SCAN that finishes shard i skips shard i+1: entering shard i+1 the
//   cursor starts at 0, and a full page with cursor 0 makes the token name the shard after it
//   (or end the listing when i+1 is the last). Every actor of shard i+1 is missing.
// - SCAN returns whole buckets, so a page can exceed page_size; keys come in hash order.
// - A key that SCAN returned but that is gone before its GET is skipped (fetchActors ignores
//   redis.Nil); the page goes on filling. (So upstream's loop never ends a page empty while
//   carrying a token, whatever the proto comment allows: it stops only when the page has
//   page_size actors or the last shard is done.)
// - The token is not validated beyond decoding: `{}` or `{"cursor":5}` (no shard_hash) starts
//   the listing over instead of failing.
import { goBase64Decode, goUnmarshalPageToken, type PageToken } from './go-decode';
import type { Keyspace } from './keyspace';

export interface ListActorsPage<A> {
  actors: A[];
  nextPageToken: string;
}

export interface ListActorsSource<A> {
  keyspace: Keyspace;
  /** The record under a key, or undefined when it is gone (a GET that returns nil). */
  fetch(key: string): A | undefined;
  /** Runs between a SCAN and the GETs of its keys: a store round trip, when other calls may run. */
  roundTrip(): Promise<void>;
}

/** Go's json.Marshal of upstream's token struct, then standard base64. */
export const encodePageToken = (token: PageToken): string =>
  Buffer.from(JSON.stringify({ shard_hash: token.shardHash, cursor: token.cursor })).toString('base64');

/** An empty token is the zero token; any other must decode (errors as upstream words them). */
export function decodePageToken(text: string): PageToken {
  if (text === '') return { shardHash: '', cursor: 0 };
  try {
    return goUnmarshalPageToken(goBase64Decode(text));
  } catch (err) {
    throw new Error(`invalid page token: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
}

/**
 * The page after `pageToken` of the actors whose key starts with `actor:<atespace>:` (all actors
 * when `atespace` is empty). Throws plain errors; the handler wraps them as upstream does.
 */
export async function listActorsPage<A>(
  source: ListActorsSource<A>,
  atespace: string,
  pageSize: number,
  pageToken: string,
): Promise<ListActorsPage<A>> {
  const token = decodePageToken(pageToken);
  const { keyspace } = source;
  const shards = keyspace.shards;
  let start = 0;
  if (token.shardHash !== '') {
    start = shards.findIndex((shard) => shard.hash === token.shardHash);
    if (start === -1)
      throw new Error(`topology changed: shard with hash ${token.shardHash} not found (aborted)`);
  }
  const prefix = atespace === '' ? 'actor:' : `actor:${atespace}:`;
  const tokenFor = (shard: number, cursor: number) =>
    encodePageToken({ shardHash: shards[shard].hash, cursor });

  const actors: A[] = [];
  let nextPageToken = '';
  shards: for (let i = start; i < shards.length; i++) {
    let cursor = i === start && token.shardHash !== '' ? token.cursor : 0;
    for (;;) {
      const remaining = pageSize - actors.length;
      if (remaining <= 0) {
        // Upstream's bug: on a shard just entered the cursor is 0 too, so shard i is skipped.
        if (cursor !== 0) nextPageToken = tokenFor(i, cursor);
        else nextPageToken = i + 1 < shards.length ? tokenFor(i + 1, 0) : '';
        break shards;
      }
      const batch = keyspace.scan(i, cursor, prefix, remaining);
      cursor = batch.cursor;
      if (batch.keys.length > 0) {
        await source.roundTrip();
        for (const key of batch.keys) {
          const actor = source.fetch(key);
          if (actor) actors.push(actor);
        }
      }
      if (cursor === 0) {
        nextPageToken = i + 1 < shards.length ? tokenFor(i + 1, 0) : '';
        break;
      }
    }
  }
  return { actors, nextPageToken };
}

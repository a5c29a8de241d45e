// Go's decoders as ate-api-server runs them on a ListActors page token, with Go's error texts:
// encoding/base64.StdEncoding.DecodeString, then encoding/json.Unmarshal into upstream's
// listActorsPageToken struct (cmd/ateapi/internal/store/ateredis/ateredis.go decodePageToken).
// Written from the behaviour of Go's standard library (base64 decodeQuantum, json scanner and
// literalStore), not copied from it.
import { goQuote } from './validation';

const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BASE64_VALUE = new Map([...BASE64_ALPHABET].map((c, i) => [c.charCodeAt(0), i]));
const PAD = 0x3d; // '='
const isNewline = (c: number) => c === 0x0a || c === 0x0d;

const corrupt = (at: number) => new Error(`illegal base64 data at input byte ${at}`);

/** base64.StdEncoding.DecodeString: padded, newlines ignored, "illegal base64 data at input byte N". */
export function goBase64Decode(text: string): Buffer {
  const src = Buffer.from(text, 'utf8');
  const out: number[] = [];
  let si = 0;
  while (si < src.length) {
    const quantum: number[] = [];
    let length = 4;
    let trailing: number | undefined;
    for (let j = 0; j < 4; j++) {
      if (si === src.length) {
        if (j === 0) return Buffer.from(out);
        throw corrupt(si - j);
      }
      const c = src[si++];
      const value = BASE64_VALUE.get(c);
      if (value !== undefined) {
        quantum.push(value);
        continue;
      }
      if (isNewline(c)) {
        j--;
        continue;
      }
      if (c !== PAD || j < 2) throw corrupt(si - 1);
      if (j === 2) {
        // "==" is expected; the first one is read.
        while (si < src.length && isNewline(src[si])) si++;
        if (si === src.length) throw corrupt(src.length);
        if (src[si] !== PAD) throw corrupt(si - 1);
        si++;
      }
      while (si < src.length && isNewline(src[si])) si++;
      if (si < src.length) trailing = si;
      length = j;
      break;
    }
    while (quantum.length < 4) quantum.push(0);
    const bits = (quantum[0] << 18) | (quantum[1] << 12) | (quantum[2] << 6) | quantum[3];
    const bytes = [(bits >> 16) & 0xff, (bits >> 8) & 0xff, bits & 0xff];
    out.push(...bytes.slice(0, length - 1));
    if (trailing !== undefined) throw corrupt(trailing);
    // Newlines after the last full quantum end the input like its end does.
    while (si < src.length && isNewline(src[si])) si++;
  }
  return Buffer.from(out);
}

// --- encoding/json ---

type JsonValue =
  | { kind: 'object'; entries: [string, JsonValue][] }
  | { kind: 'array' }
  | { kind: 'string'; value: string }
  | { kind: 'number'; text: string }
  | { kind: 'bool' }
  | { kind: 'null' };

/** Go's quoteChar: a byte as the scanner quotes it in "invalid character …". */
function quoteChar(c: number): string {
  if (c === 0x27) return "'\\''";
  if (c === 0x22) return `'"'`;
  const quoted = goQuote(String.fromCodePoint(c));
  return `'${quoted.slice(1, -1)}'`;
}

const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isHex = (c: number) => isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);

/** A JSON parser that fails where Go's scanner fails, with its messages. */
class GoJsonParser {
  private at = 0;

  constructor(private readonly bytes: Buffer) {}

  private fail(context: string): never {
    if (this.at >= this.bytes.length) throw new Error('unexpected end of JSON input');
    throw new Error(`invalid character ${quoteChar(this.bytes[this.at])} ${context}`);
  }

  private peek(): number | undefined {
    return this.bytes[this.at];
  }

  private skipSpace(): void {
    while (this.at < this.bytes.length && isSpace(this.bytes[this.at])) this.at++;
  }

  parseDocument(): JsonValue {
    this.skipSpace();
    const value = this.value();
    this.skipSpace();
    if (this.at < this.bytes.length) this.fail('after top-level value');
    return value;
  }

  private value(): JsonValue {
    this.skipSpace();
    const c = this.peek();
    if (c === 0x7b) return this.object();
    if (c === 0x5b) return this.array();
    if (c === 0x22) return { kind: 'string', value: this.string() };
    if (c === 0x2d || (c !== undefined && isDigit(c))) return { kind: 'number', text: this.number() };
    if (c === 0x74) return this.literal('true', { kind: 'bool' });
    if (c === 0x66) return this.literal('false', { kind: 'bool' });
    if (c === 0x6e) return this.literal('null', { kind: 'null' });
    return this.fail('looking for beginning of value');
  }

  private object(): JsonValue {
    this.at++; // {
    const entries: [string, JsonValue][] = [];
    this.skipSpace();
    if (this.peek() === 0x7d) {
      this.at++;
      return { kind: 'object', entries };
    }
    for (;;) {
      this.skipSpace();
      if (this.peek() !== 0x22) this.fail('looking for beginning of object key string');
      const name = this.string();
      this.skipSpace();
      if (this.peek() !== 0x3a) this.fail('after object key');
      this.at++;
      entries.push([name, this.value()]);
      this.skipSpace();
      const next = this.peek();
      if (next === 0x2c) {
        this.at++;
        continue;
      }
      if (next === 0x7d) {
        this.at++;
        return { kind: 'object', entries };
      }
      this.fail('after object key:value pair');
    }
  }

  private array(): JsonValue {
    this.at++; // [
    this.skipSpace();
    if (this.peek() === 0x5d) {
      this.at++;
      return { kind: 'array' };
    }
    for (;;) {
      this.value();
      this.skipSpace();
      const next = this.peek();
      if (next === 0x2c) {
        this.at++;
        continue;
      }
      if (next === 0x5d) {
        this.at++;
        return { kind: 'array' };
      }
      this.fail('after array element');
    }
  }

  private string(): string {
    const start = this.at;
    this.at++; // "
    for (;;) {
      const c = this.peek();
      if (c === undefined) this.fail('in string literal');
      if (c === 0x22) {
        this.at++;
        break;
      }
      if (c === 0x5c) {
        this.at++;
        const e = this.peek();
        if (e === 0x75) {
          this.at++;
          for (let i = 0; i < 4; i++) {
            const h = this.peek();
            if (h === undefined || !isHex(h)) this.fail('in \\u hexadecimal character escape');
            this.at++;
          }
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(String.fromCharCode(e)))
          this.fail('in string escape code');
        this.at++;
        continue;
      }
      if (c < 0x20) this.fail('in string literal');
      this.at++;
    }
    return JSON.parse(this.bytes.subarray(start, this.at).toString('utf8')) as string;
  }

  private number(): string {
    const start = this.at;
    if (this.peek() === 0x2d) {
      this.at++;
      const c = this.peek();
      if (c === undefined || !isDigit(c)) this.fail('in numeric literal');
    }
    if (this.peek() === 0x30) this.at++;
    else while (this.at < this.bytes.length && isDigit(this.bytes[this.at])) this.at++;
    if (this.peek() === 0x2e) {
      this.at++;
      const c = this.peek();
      if (c === undefined || !isDigit(c)) this.fail('after decimal point in numeric literal');
      while (this.at < this.bytes.length && isDigit(this.bytes[this.at])) this.at++;
    }
    if (this.peek() === 0x65 || this.peek() === 0x45) {
      this.at++;
      if (this.peek() === 0x2b || this.peek() === 0x2d) this.at++;
      const c = this.peek();
      if (c === undefined || !isDigit(c)) this.fail('in exponent of numeric literal');
      while (this.at < this.bytes.length && isDigit(this.bytes[this.at])) this.at++;
    }
    return this.bytes.subarray(start, this.at).toString('latin1');
  }

  private literal(word: string, value: JsonValue): JsonValue {
    for (let i = 0; i < word.length; i++) {
      if (this.peek() !== word.charCodeAt(i)) this.fail(`in literal ${word} (expecting '${word[i]}')`);
      this.at++;
    }
    return value;
  }
}

/** upstream's listActorsPageToken: the zero value means "from the first shard". */
export interface PageToken {
  shardHash: string;
  /** SCAN cursor (the low 32 bits of Go's uint64: a simulated table never has more buckets). */
  cursor: number;
}

const UINT64 = /^\d+$/;
const STRUCT = 'listActorsPageToken';

/** json.Unmarshal(bytes, &listActorsPageToken{}) with Go's errors (the first type error wins). */
export function goUnmarshalPageToken(bytes: Buffer): PageToken {
  const document = new GoJsonParser(bytes).parseDocument();
  const token: PageToken = { shardHash: '', cursor: 0 };
  if (document.kind === 'null') return token;
  if (document.kind !== 'object') {
    throw new Error(`json: cannot unmarshal ${document.kind} into Go value of type ateredis.${STRUCT}`);
  }
  let firstError: string | undefined;
  // A number is shown with its text only where Go tried to parse it (into the uint64).
  const typeError = (shown: string, field: string, type: string) => {
    firstError ??= `json: cannot unmarshal ${shown} into Go struct field ${STRUCT}.${field} of type ${type}`;
  };
  for (const [name, value] of document.entries) {
    // Go matches field names case-insensitively.
    const field = name.toLowerCase();
    if (value.kind === 'null') continue;
    if (field === 'shard_hash') {
      if (value.kind === 'string') token.shardHash = value.value;
      else typeError(value.kind, field, 'string');
    } else if (field === 'cursor') {
      if (value.kind === 'number' && UINT64.test(value.text) && BigInt(value.text) < 2n ** 64n) {
        token.cursor = Number(BigInt.asUintN(32, BigInt(value.text)));
      } else typeError(value.kind === 'number' ? `number ${value.text}` : value.kind, field, 'uint64');
    }
  }
  if (firstError) throw new Error(firstError);
  return token;
}

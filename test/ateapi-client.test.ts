// The ateapi client against the simulator's real transports: TLS with a custom CA and a server
// name override, a bearer token re-read from its file on every call, and error classification.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { startSimulator, type Simulator } from '../src/sim';
import { AteapiClient } from '../src/substrate/client';
import { classifyFailure } from '../src/substrate/errors';

const serviceError = (code: status, details: string): ServiceError =>
  Object.assign(new Error(details), { code, details, metadata: new Metadata() });

describe('ateapi client over TLS with JWT auth', () => {
  let sim: Simulator;
  let tokenFile: string;
  before(async () => {
    sim = await startSimulator({ latencyScale: 0, tls: true, auth: { mode: 'jwt' } });
    tokenFile = join(mkdtempSync(join(tmpdir(), 'ateflow-token-')), 'token');
  });
  after(async () => sim?.stop());

  const client = (overrides: { serverName?: string; tokenFile?: string } = {}) =>
    new AteapiClient({
      endpoint: sim.address,
      tls: { caPem: Buffer.from(sim.caCertPem!), serverName: overrides.serverName ?? sim.serverName },
      tokenFile: overrides.tokenFile ?? tokenFile,
      callTimeoutMs: 5_000,
    });

  it('verifies the server as api.ate-system.svc through the custom CA', async () => {
    writeFileSync(tokenFile, `${await sim.jwt!.mintToken!()}\n`); // trailing newline is trimmed
    const ateapi = client();
    try {
      await ateapi.createAtespace('tls-ok');
      assert.equal((await ateapi.getAtespace('tls-ok')).name, 'tls-ok');
    } finally {
      ateapi.close();
    }
  });

  it('refuses a server whose certificate does not carry the expected name', async () => {
    const ateapi = client({ serverName: 'someone-else.example' });
    try {
      await assert.rejects(ateapi.listWorkers(), (err: ServiceError) => err.code === status.UNAVAILABLE);
    } finally {
      ateapi.close();
    }
  });

  it('re-reads the token file on every call (rotation), and explains an empty one', async () => {
    const ateapi = client();
    try {
      writeFileSync(tokenFile, 'not-a-jwt');
      await assert.rejects(ateapi.listWorkers(), (err: ServiceError) => {
        assert.equal(err.code, status.UNAUTHENTICATED);
        assert.match(err.details, /^invalid bearer token/);
        return true;
      });
      writeFileSync(tokenFile, await sim.jwt!.mintToken!());
      assert.ok(Array.isArray(await ateapi.listWorkers()), 'the rotated token was not picked up');
      writeFileSync(tokenFile, '  \n');
      await assert.rejects(ateapi.listWorkers(), /token file .* is empty/);
    } finally {
      ateapi.close();
    }
  });

  it('sends no token when none is configured, which JWT mode refuses', async () => {
    const ateapi = new AteapiClient({
      endpoint: sim.address,
      tls: { caPem: Buffer.from(sim.caCertPem!), serverName: sim.serverName },
    });
    try {
      await assert.rejects(
        ateapi.listWorkers(),
        (err: ServiceError) => err.details === 'missing bearer token',
      );
    } finally {
      ateapi.close();
    }
  });
});

describe('ateapi error classification', () => {
  const cases: [status, string, string][] = [
    [status.ABORTED, 'another operation is in progress for this actor', 'retryable'],
    [status.ABORTED, 'concurrent update conflict, please retry', 'retryable'],
    [status.UNAVAILABLE, 'connection refused', 'retryable'],
    [status.DEADLINE_EXCEEDED, 'deadline exceeded', 'retryable'],
    [status.UNKNOWN, 'mock atelet failure', 'retryable'],
    [status.INTERNAL, 'internal server error: worker cache not ready', 'retryable'],
    [
      status.INTERNAL,
      'internal server error: workflow failed at step AssignWorker: timed out waiting for the condition',
      'retryable',
    ],
    [status.FAILED_PRECONDITION, 'no free workers available', 'capacity'],
    [
      status.FAILED_PRECONDITION,
      "no worker pool matches the template's sandboxClass and the template/actor selectors",
      'permanent',
    ],
    [status.FAILED_PRECONDITION, 'ActorTemplate default/x not found', 'permanent'],
    [status.INVALID_ARGUMENT, 'atespace is required', 'permanent'],
    [status.NOT_FOUND, 'Actor a not found', 'permanent'],
    [status.PERMISSION_DENIED, 'denied', 'permanent'],
    [status.UNAUTHENTICATED, 'missing bearer token', 'permanent'],
    [
      status.INTERNAL,
      'internal server error: workflow failed at step CallAteletSuspend: actor is in SUSPENDING state but has no active worker',
      'permanent',
    ],
  ];
  for (const [code, details, expected] of cases) {
    it(`${status[code]} "${details.slice(0, 60)}" is ${expected}`, () => {
      assert.equal(classifyFailure(serviceError(code, details)), expected);
    });
  }
});

// Transport and auth like the real server: TLS with a generated CA and a certificate for
// api.ate-system.svc, and the JWT mode's Unauthenticated answers.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Metadata, status as GrpcStatus } from '@grpc/grpc-js';
import { generateKeyPair, SignJWT } from 'jose';
import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { createCertificateAuthority, createServerCertificate } from '../src/sim/x509';
import { assertStatus, ControlApi, startSim, type SimHarness } from './helpers/sim';

describe('TLS', () => {
  let h: SimHarness;
  before(async () => {
    h = await startSim({ tls: true });
  });
  after(async () => h.close());

  it('serves a certificate for api.ate-system.svc signed by the published CA', async () => {
    assert.equal(h.sim.serverName, 'api.ate-system.svc');
    const ca = new X509Certificate(h.sim.caCertPem!);
    assert.ok(ca.ca);
    await h.api.call('ListAtespaces', {});
  });

  it('refuses a client that does not trust the CA, and a plaintext client', async () => {
    const other = (await startSim({ tls: true })).sim;
    const untrusting = new ControlApi(h.sim.address, {
      caCertPem: other.caCertPem,
      serverName: 'api.ate-system.svc',
    });
    await assertStatus(untrusting.call('ListAtespaces', {}), GrpcStatus.UNAVAILABLE);
    untrusting.close();
    await other.stop();
    const plain = new ControlApi(h.sim.address, { deadlineMs: 2000 });
    await assertStatus(plain.call('ListAtespaces', {}), GrpcStatus.UNAVAILABLE);
    plain.close();
  });
});

describe('certificate encoding', () => {
  it('issues certificates OpenSSL accepts whatever their random serial (strict DER)', () => {
    // A serial whose first random byte is zero once made a non-minimal INTEGER ("illegal padding").
    for (let i = 0; i < 300; i++) {
      const ca = createCertificateAuthority('ca');
      const leaf = createServerCertificate(ca, ['api.ate-system.svc', '127.0.0.1']);
      createSecureContext({ cert: leaf.certPem, key: leaf.keyPem, ca: ca.certPem });
    }
  });
});

describe('JWT auth mode', () => {
  let h: SimHarness;
  let token: string;
  const withToken = (t: string) =>
    new ControlApi(h.sim.address, { caCertPem: h.sim.caCertPem, serverName: h.sim.serverName, token: t });

  before(async () => {
    h = await startSim({ tls: true, auth: { mode: 'jwt' } });
    token = await h.sim.jwt!.mintToken!();
  });
  after(async () => h.close());

  it('accepts a valid token on every RPC', async () => {
    const api = withToken(token);
    await api.call('CreateAtespace', { name: 'ws' });
    const { atespaces } = await api.call('ListAtespaces', {});
    assert.ok(atespaces.some((a) => a.name === 'ws'));
    assert.ok(api.lastTrailers?.get('x-server-elapsed-us').length);
    api.close();
  });

  it('answers "missing bearer token" without a token or with another scheme', async () => {
    await assertStatus(h.api.call('ListAtespaces', {}), GrpcStatus.UNAUTHENTICATED, 'missing bearer token');
    const basic = new ControlApi(h.sim.address, { caCertPem: h.sim.caCertPem, serverName: h.sim.serverName });
    const md = new Metadata();
    md.set('authorization', `Basic ${token}`);
    await assertStatus(
      basic.call('ListAtespaces', {}, md),
      GrpcStatus.UNAUTHENTICATED,
      'missing bearer token',
    );
    basic.close();
  });

  it('answers "invalid bearer token: …" for bad signature, issuer, audience and expiry', async () => {
    const mint = h.sim.jwt!.mintToken!;
    const { privateKey } = await generateKeyPair('RS256');
    const foreign = await new SignJWT({ iss: h.sim.jwt!.issuer, aud: h.sim.jwt!.audience })
      .setProtectedHeader({ alg: 'RS256', kid: 'ateflow-sim-1' })
      .setExpirationTime('1h')
      .sign(privateKey);
    const bad = [
      'not-a-jwt',
      foreign,
      await mint({ iss: 'https://elsewhere' }),
      await mint({ aud: 'someone-else' }),
      await mint({ expiresInSeconds: -600 }),
    ];
    for (const t of bad) {
      const api = withToken(t);
      await assertStatus(
        api.call('ListAtespaces', {}),
        GrpcStatus.UNAUTHENTICATED,
        /^invalid bearer token: /,
      );
      api.close();
    }
  });

  it('allows ±5 minutes of clock skew', async () => {
    const api = withToken(await h.sim.jwt!.mintToken!({ expiresInSeconds: -120 }));
    await api.call('ListAtespaces', {});
    api.close();
  });
});

// Temporal connection settings from configuration: plaintext by default, TLS/mTLS/API key on demand.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config';
import { temporalConnectionOptions } from '../src/temporal/connection';

describe('Temporal connection options', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ateflow-tls-'));
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };

  it('is plaintext on the embedded defaults', () => {
    assert.deepEqual(temporalConnectionOptions(loadConfig({})), {
      address: '127.0.0.1:7233',
      tls: undefined,
      apiKey: undefined,
    });
  });

  it('reads a CA, an mTLS pair and a server name', () => {
    const options = temporalConnectionOptions(
      loadConfig({
        ATEFLOW_TEMPORAL_ADDRESS: 'temporal.example:7233',
        ATEFLOW_TEMPORAL_TLS_CA_FILE: file('ca.pem', 'CA'),
        ATEFLOW_TEMPORAL_TLS_CERT_FILE: file('client.pem', 'CERT'),
        ATEFLOW_TEMPORAL_TLS_KEY_FILE: file('client.key', 'KEY'),
        ATEFLOW_TEMPORAL_TLS_SERVER_NAME: 'frontend.internal',
      }),
    );
    assert.equal(options.address, 'temporal.example:7233');
    assert.ok(options.tls && typeof options.tls === 'object');
    assert.equal(options.tls.serverNameOverride, 'frontend.internal');
    assert.equal(Buffer.from(options.tls.serverRootCACertificate!).toString(), 'CA');
    assert.equal(Buffer.from(options.tls.clientCertPair!.crt).toString(), 'CERT');
    assert.equal(Buffer.from(options.tls.clientCertPair!.key).toString(), 'KEY');
  });

  it('turns TLS on for an API key (Temporal Cloud)', () => {
    const options = temporalConnectionOptions(loadConfig({ ATEFLOW_TEMPORAL_API_KEY: 'k' }));
    assert.equal(options.apiKey, 'k');
    assert.ok(options.tls);
  });

  it('refuses a client certificate without its key', () => {
    assert.throws(
      () => temporalConnectionOptions(loadConfig({ ATEFLOW_TEMPORAL_TLS_CERT_FILE: file('c.pem', 'C') })),
      /go together/,
    );
  });
});

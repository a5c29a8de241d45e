// How every ateflow process reaches Temporal: address plus optional TLS (custom CA, mTLS client
// certificate, server-name override) and API key — the same options serve a self-hosted cluster
// and Temporal Cloud. Worker and facade both build their connections from this.
import { readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/client';
import type { Config } from '../config';

export interface TemporalConnectionOptions {
  address: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
}

export function temporalConnectionOptions(config: Config): TemporalConnectionOptions {
  const ca = config.ATEFLOW_TEMPORAL_TLS_CA_FILE;
  const cert = config.ATEFLOW_TEMPORAL_TLS_CERT_FILE;
  const key = config.ATEFLOW_TEMPORAL_TLS_KEY_FILE;
  if (Boolean(cert) !== Boolean(key)) {
    throw new Error('ATEFLOW_TEMPORAL_TLS_CERT_FILE and ATEFLOW_TEMPORAL_TLS_KEY_FILE go together (mTLS)');
  }
  const wantsTls = config.ATEFLOW_TEMPORAL_TLS || ca || cert || config.ATEFLOW_TEMPORAL_API_KEY;
  const tls: TLSConfig | undefined = wantsTls
    ? {
        serverNameOverride: config.ATEFLOW_TEMPORAL_TLS_SERVER_NAME,
        serverRootCACertificate: ca ? readFileSync(ca) : undefined,
        clientCertPair: cert && key ? { crt: readFileSync(cert), key: readFileSync(key) } : undefined,
      }
    : undefined;
  return { address: config.ATEFLOW_TEMPORAL_ADDRESS, tls, apiKey: config.ATEFLOW_TEMPORAL_API_KEY };
}

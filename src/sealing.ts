// Seals the gateway's sandbox token so it can travel through workflow history without being
// readable there (AES-256-GCM; the facade seals, the template activity unseals). Facades and
// workers share one key: ATEFLOW_SEALING_KEY (base64, 32 bytes) or ATEFLOW_SEALING_KEY_FILE.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

const VERSION = 'v1';

export function sealToken(token: string, key: Buffer): string {
  if (token === '') return '';
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(token, 'utf8'), cipher.final()]);
  return [
    VERSION,
    iv.toString('base64'),
    cipher.getAuthTag().toString('base64'),
    body.toString('base64'),
  ].join('.');
}

export function unsealToken(sealed: string, key: Buffer): string {
  if (sealed === '') return '';
  const [version, iv, tag, body] = sealed.split('.');
  if (version !== VERSION || !iv || !tag || body === undefined)
    throw new Error('sealed token has an unknown format');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
  decipher.setAuthTag(Buffer.from(tag, 'base64'));
  try {
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64')), decipher.final()]).toString('utf8');
  } catch {
    throw new Error('cannot unseal the sandbox token: facades and workers must share ATEFLOW_SEALING_KEY');
  }
}

function parseKey(base64: string, source: string): Buffer {
  const key = Buffer.from(base64.trim(), 'base64');
  if (key.length !== 32) throw new Error(`${source} must hold 32 bytes, base64-encoded (got ${key.length})`);
  return key;
}

/**
 * The sealing key from ATEFLOW_SEALING_KEY, else from ATEFLOW_SEALING_KEY_FILE; with neither,
 * a key file under `dataDir` that is created on first use (the local, single-machine default).
 */
export function loadSealingKey(env: NodeJS.ProcessEnv, dataDir: string): Buffer {
  if (env.ATEFLOW_SEALING_KEY) return parseKey(env.ATEFLOW_SEALING_KEY, 'ATEFLOW_SEALING_KEY');
  const file = env.ATEFLOW_SEALING_KEY_FILE || `${dataDir}/sealing.key`;
  if (!env.ATEFLOW_SEALING_KEY_FILE && !existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  }
  return parseKey(readFileSync(file, 'utf8'), file);
}

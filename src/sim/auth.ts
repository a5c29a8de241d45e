// ate-api-server's --auth-mode=jwt: every RPC needs "authorization: Bearer <JWT>", verified
// against RSA keys (RS256/384/512) with issuer, audience and exp/nbf/iat checked within
// ±5 minutes. Failures are Unauthenticated "missing bearer token" or
// "invalid bearer token: <reason>". Mode "none" (upstream "mtls") checks nothing.
import type { Metadata } from '@grpc/grpc-js';
import { status as GrpcStatus } from '@grpc/grpc-js';
import {
  createLocalJWKSet,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  SignJWT,
  type JSONWebKeySet,
  type JWTPayload,
} from 'jose';
import { StatusError } from './errors';

export const DEFAULT_AUDIENCE = 'api.ate-system.svc';
export const DEFAULT_ISSUER = 'https://kubernetes.default.svc';
const CLOCK_SKEW_SECONDS = 5 * 60;
const RSA_ALGORITHMS = ['RS256', 'RS384', 'RS512'];

export type AuthOptions =
  | { mode: 'none' }
  | {
      mode: 'jwt';
      /** Required `iss`; default https://kubernetes.default.svc. */
      issuer?: string;
      /** Required `aud` member; default api.ate-system.svc. */
      audience?: string;
      /** Public keys to verify with; omitted: the simulator makes an RSA key and can mint tokens. */
      jwks?: JSONWebKeySet;
    };

/** Checks the call's metadata; throws StatusError(Unauthenticated) when it must be refused. */
export type Authenticator = (metadata: Metadata) => Promise<void>;

export interface JwtAuthority {
  issuer: string;
  audience: string;
  jwks: JSONWebKeySet;
  /**
   * Signs a token like a projected ServiceAccount token (claims override the defaults); only
   * when the simulator made the key.
   */
  mintToken?: (claims?: JWTPayload & { expiresInSeconds?: number }) => Promise<string>;
}

const unauthenticated = (message: string) => new StatusError(GrpcStatus.UNAUTHENTICATED, message);

export async function jwtAuthority(options: Extract<AuthOptions, { mode: 'jwt' }>): Promise<JwtAuthority> {
  const issuer = options.issuer ?? DEFAULT_ISSUER;
  const audience = options.audience ?? DEFAULT_AUDIENCE;
  if (options.jwks) return { issuer, audience, jwks: options.jwks };
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = 'ateflow-sim-1';
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  return {
    issuer,
    audience,
    jwks: { keys: [jwk] },
    mintToken: async ({ expiresInSeconds = 3600, ...claims } = {}) => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({
        iss: issuer,
        aud: audience,
        sub: 'system:serviceaccount:ate-system:ate-client',
        iat: now,
        nbf: now,
        exp: now + expiresInSeconds,
        'kubernetes.io': { namespace: 'ate-system', serviceaccount: { name: 'ate-client' } },
        ...claims,
      })
        .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
        .sign(privateKey);
    },
  };
}

export function authenticator(authority: JwtAuthority | undefined): Authenticator {
  if (!authority) return async () => {};
  const keys = createLocalJWKSet(authority.jwks);
  return async (metadata) => {
    const header = metadata.get('authorization')[0];
    if (typeof header !== 'string' || !header.startsWith('Bearer '))
      throw unauthenticated('missing bearer token');
    const token = header.slice('Bearer '.length).trim();
    try {
      const { typ, kid } = decodeProtectedHeader(token);
      if (typ !== undefined && typ !== '' && typ !== 'JWT') throw new Error(`unexpected token type ${typ}`);
      if (!kid) throw new Error('token has no kid');
      const { payload } = await jwtVerify(token, keys, {
        issuer: authority.issuer,
        audience: authority.audience,
        algorithms: RSA_ALGORITHMS,
        clockTolerance: CLOCK_SKEW_SECONDS,
      });
      if (payload.iat !== undefined && payload.iat > Date.now() / 1000 + CLOCK_SKEW_SECONDS) {
        throw new Error('token issued in the future');
      }
    } catch (err) {
      throw unauthenticated(`invalid bearer token: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
}

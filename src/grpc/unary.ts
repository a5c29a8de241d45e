// Promise form of grpc-js's callback-style unary calls (ts-proto generated clients).
import type { CallOptions, ServiceError } from '@grpc/grpc-js';

export type Done<Res> = (error: ServiceError | null, response: Res) => void;

/** Call options with a deadline `timeoutMs` from now. */
export const within = (timeoutMs: number): Partial<CallOptions> => ({ deadline: Date.now() + timeoutMs });

/** `unary((done) => client.getActor(request, metadata, within(ms), done))` */
export function unary<Res>(start: (done: Done<Res>) => unknown): Promise<Res> {
  return new Promise((resolve, reject) => {
    start((error, response) => (error ? reject(error) : resolve(response)));
  });
}

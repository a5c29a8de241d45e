// A client of the facade (ComputeDriver + ateflow.v1 Operations) over its Unix socket or a TCP
// address, with promise-returning unary calls. Used by the CLI, tests and benchmarks.
import { credentials, type ServiceError } from '@grpc/grpc-js';
import { OperationsClient } from '../gen/ateflow';
import { ComputeDriverClient } from '../gen/compute_driver';

export interface FacadeClient {
  driver: ComputeDriverClient;
  ops: OperationsClient;
  close(): void;
}

/** `address` is a socket path (absolute or relative) or host:port. */
export function connectFacade(address: string): FacadeClient {
  const target = /^[\w.-]+:\d+$/.test(address) || address.startsWith('unix:') ? address : `unix:${address}`;
  // The gateway sends this authority over its socket; the facade must accept it.
  const options = { 'grpc.default_authority': '[::]:50051' };
  const driver = new ComputeDriverClient(target, credentials.createInsecure(), options);
  const ops = new OperationsClient(target, credentials.createInsecure(), options);
  return {
    driver,
    ops,
    close: () => {
      driver.close();
      ops.close();
    },
  };
}

/** Call options with a deadline `timeoutMs` from now. */
export const within = (timeoutMs: number) => ({ deadline: Date.now() + timeoutMs });

/** Promise form of a callback-style unary call: `unary((done) => client.x(req, md, within(ms), done))`. */
export function unary<Res>(
  start: (done: (err: ServiceError | null, response: Res) => void) => unknown,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    start((err, response) => (err ? reject(err) : resolve(response)));
  });
}

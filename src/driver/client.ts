// A client of the facade (ComputeDriver + ateflow.v1 Operations) over its Unix socket or a TCP
// address. Used by the CLI, tests and benchmarks (promise calls: src/grpc/unary.ts).
import { credentials } from '@grpc/grpc-js';
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

// A promise-based client for the simulator's admin API (ateflow.sim.v1.SimulatorAdmin).
import {
  credentials,
  Metadata,
  type CallOptions,
  type ClientUnaryCall,
  type ServiceError,
} from '@grpc/grpc-js';
import { SimulatorAdminClient, type SimulatorAdminService } from '../gen/sim_admin';

type Service = typeof SimulatorAdminService;
export type AdminMethod = keyof Service;
export type AdminRequest<M extends AdminMethod> = Parameters<Service[M]['requestSerialize']>[0];
export type AdminResponse<M extends AdminMethod> = ReturnType<Service[M]['responseDeserialize']>;

/** The callback form of a generated unary method (its last overload). */
type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

export class SimAdminConnection {
  readonly client: SimulatorAdminClient;

  constructor(address: string) {
    this.client = new SimulatorAdminClient(address, credentials.createInsecure());
  }

  /** e.g. `admin.call('listWorkers', {})`. */
  call<M extends AdminMethod>(
    method: M,
    request: AdminRequest<M>,
    timeoutMs = 10_000,
  ): Promise<AdminResponse<M>> {
    const deadline = new Date(Date.now() + timeoutMs);
    const unary = (this.client[method] as unknown as UnaryMethod<AdminRequest<M>, AdminResponse<M>>).bind(
      this.client,
    );
    return new Promise((resolve, reject) => {
      unary(request, new Metadata(), { deadline }, (err, res) => (err ? reject(err) : resolve(res)));
    });
  }

  close(): void {
    this.client.close();
  }
}

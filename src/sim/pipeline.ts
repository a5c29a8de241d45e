// Every Control call, whether it arrives over gRPC or from inside the simulator (the golden
// controller and the data-plane router are ordinary ateapi clients upstream), goes through
// here: an injected fault may fail or delay it, and the store round trip takes its time.
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { ControlHandlers, ControlMethods } from './control-api';
import { StatusError } from './errors';
import type { ControlRpc, FaultInjector } from './faults';
import { sleep, type LatencyModel } from './latency';

type Request<K extends ControlRpc> = ControlMethods[K][0];
type Response<K extends ControlRpc> = ControlMethods[K][1];

/** The actor a request is about, for fault rules that name one. */
function actorNameOf(request: unknown): string {
  return (request as { actorRef?: { name?: string } } | undefined)?.actorRef?.name ?? '';
}

export class ControlPipeline {
  constructor(
    private readonly handlers: ControlHandlers,
    private readonly faults: FaultInjector,
    private readonly latency: LatencyModel,
  ) {}

  async invoke<K extends ControlRpc>(rpc: K, request: Request<K>, signal: AbortSignal): Promise<Response<K>> {
    const fault = this.faults.take(rpc, actorNameOf(request), 'request');
    await sleep(this.latency.draw(this.latency.profile.storeMs) + (fault?.extraLatencyMs ?? 0), signal);
    if (fault && fault.code !== GrpcStatus.OK) throw new StatusError(fault.code, fault.message);
    const handler = this.handlers[rpc] as (r: Request<K>, s: AbortSignal) => Promise<Response<K>>;
    return handler(request, signal);
  }
}

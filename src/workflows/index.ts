// Every workflow type the ateflow worker registers.
export { sandboxWorkflow } from './sandbox';
export { fleetObserverWorkflow } from './fleet-observer';

// All activities the sandbox workflow calls, bound to their clients. Workflows import only the
// type (`import type { Activities }`), never this module.
import type { FleetObserver } from '../observer/fleet-observer';
import type { AteapiClient } from '../substrate/client';
import { actorActivities } from './actors';
import { goldenActivities } from './golden';
import { observerActivities } from './observer';
import { templateActivities, type TemplateActivityDeps } from './templates';

export interface ActivityDeps extends TemplateActivityDeps {
  ateapi: AteapiClient;
  observer: FleetObserver;
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...actorActivities(deps.ateapi, deps.templates),
    ...templateActivities(deps),
    ...goldenActivities(deps.templates, deps.ateapi),
    ...observerActivities(deps.observer),
  };
}

export type Activities = ReturnType<typeof createActivities>;

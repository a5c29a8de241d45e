// `ateflow sim …` against a running simulator's admin API.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { simCommand } from '../src/cli/sim';
import { startSim, type SimHarness } from './helpers/sim';

/** Runs `ateflow sim <args>` in-process and returns what it printed. */
async function sim(adminAddress: string, ...args: string[]): Promise<string> {
  const printed: string[] = [];
  const log = console.log;
  console.log = (...parts: unknown[]) => printed.push(parts.join(' '));
  try {
    await simCommand()
      .exitOverride()
      .parseAsync(['--admin', adminAddress, ...args], { from: 'user' });
  } finally {
    console.log = log;
  }
  return printed.join('\n');
}

describe('ateflow sim', () => {
  let h: SimHarness;
  before(async () => {
    h = await startSim();
  });
  after(async () => h.close());

  it('lists workers, pools, nodes and templates as tables and JSON', async () => {
    const table = await sim(h.sim.adminAddress, 'workers');
    assert.match(table.split('\n')[0], /^POD\s+POOL\s+NODE\s+IP\s+PHASE\s+ACTOR\s+STATUS\s+WORKLOAD$/);
    assert.equal(table.split('\n').length, 9);
    const workers = JSON.parse(await sim(h.sim.adminAddress, '-o', 'json', 'workers')) as { pod: string }[];
    assert.equal(workers.length, 8);
    assert.match(await sim(h.sim.adminAddress, 'pools'), /default\/default\s+gvisor\s+8\s+8\s+8/);
    assert.match(await sim(h.sim.adminAddress, 'templates'), /default\/sandbox\s+gvisor\s+Ready\s+gs:\/\//);
    assert.match(await sim(h.sim.adminAddress, '-o', 'yaml', 'nodes'), /- name: sim-node-1/);
  });

  it('kills and evicts workers, scales pools, kills nodes', async () => {
    const [first, second] = (
      JSON.parse(await sim(h.sim.adminAddress, '-o', 'json', 'workers')) as { pod: string }[]
    ).map((w) => w.pod);
    assert.match(await sim(h.sim.adminAddress, 'kill-worker', first), /killed/);
    assert.match(await sim(h.sim.adminAddress, 'evict', second), /evicted/);
    assert.match(await sim(h.sim.adminAddress, 'add-workers', 'default', '2'), /default\/default\s+10/);
    assert.match(await sim(h.sim.adminAddress, 'scale', 'default', '4'), /default\/default\s+4/);
    assert.match(await sim(h.sim.adminAddress, 'kill-node', 'sim-node-1'), /POD\s+RESULT/);
    await assert.rejects(sim(h.sim.adminAddress, 'kill-worker', 'nope'), /pod nope not found/);
  });

  it('injects, lists and clears faults', async () => {
    assert.match(
      await sim(
        h.sim.adminAddress,
        'fault',
        'ResumeActor',
        '--code',
        'unavailable',
        '--count',
        '2',
        '--leave-transitional',
      ),
      /f\d+\s+ResumeActor\s+\*\s+UNAVAILABLE\s+always\s+2\s+atelet/,
    );
    assert.match(await sim(h.sim.adminAddress, 'faults'), /ResumeActor/);
    assert.match(await sim(h.sim.adminAddress, 'clear-faults'), /CLEARED\n1/);
    await assert.rejects(
      sim(h.sim.adminAddress, 'fault', 'ResumeActor', '--code', 'NOPE'),
      /unknown gRPC code NOPE/,
    );
  });

  it('says when no simulator is listening', async () => {
    await assert.rejects(sim('127.0.0.1:1', 'workers'), /no simulator admin API at 127.0.0.1:1/);
  });
});

// `ateflow sim …` as a user runs it: the compiled CLI as a child process against a simulator's
// admin API, and `sim start` as a server. Every command with good and bad input: what it prints
// and its exit code (src/cli/exit.ts). test/sim-cli.test.ts covers the same commands in-process.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EXIT } from '../src/cli/exit';
import { ateflow, buildCli, interrupt, spawnAteflow, waitForOutput, type Run } from './helpers/cli';
import { startSim, type SimHarness } from './helpers/sim';

const expectExit = (run: Run, code: number, what: string) =>
  assert.equal(run.code, code, `${what}: exit ${run.code}, expected ${code}\n${run.stdout}\n${run.stderr}`);

describe('ateflow sim CLI', () => {
  let h: SimHarness;
  const sim = (...args: string[]) => ateflow(['sim', '--admin', h.sim.adminAddress, ...args]);

  before(async () => {
    buildCli();
    h = await startSim();
  });
  after(async () => h?.close());

  it('lists workers, actors, pools, nodes and templates; bad output format is usage (1)', async () => {
    const workers = await sim('workers');
    expectExit(workers, EXIT.ok, 'workers');
    assert.match(workers.stdout, /^POD\s+POOL\s+NODE\s+IP\s+PHASE\s+ACTOR\s+STATUS\s+WORKLOAD$/m);
    const actors = await sim('actors', '--atespace', 'nosuch');
    expectExit(actors, EXIT.ok, 'actors');
    assert.match(actors.stdout, /^ACTOR\s+STATUS/);
    const pools = await sim('pools', '-o', 'json');
    expectExit(pools, EXIT.ok, 'pools');
    assert.equal((JSON.parse(pools.stdout) as { name: string }[])[0].name, 'default');
    const nodes = await sim('nodes', '-o', 'yaml');
    expectExit(nodes, EXIT.ok, 'nodes');
    assert.match(nodes.stdout, /- name: sim-node-1/);
    const templates = await sim('templates');
    expectExit(templates, EXIT.ok, 'templates');
    assert.match(templates.stdout, /default\/sandbox\s+gvisor\s+Ready/);
    expectExit(await sim('workers', '-o', 'xml'), EXIT.usage, 'workers -o xml');
    expectExit(await sim('workers', 'extra'), EXIT.usage, 'workers with an argument');
  });

  it('kills, evicts and removes workers; an unknown pod is not found (3)', async () => {
    const pods = (JSON.parse((await sim('-o', 'json', 'workers')).stdout) as { pod: string }[]).map(
      (w) => w.pod,
    );
    const kill = await sim('kill-worker', pods[0]);
    expectExit(kill, EXIT.ok, 'kill-worker');
    assert.match(kill.stdout, /killed/);
    expectExit(await sim('evict', pods[1]), EXIT.ok, 'evict');
    expectExit(await sim('remove-worker', pods[2]), EXIT.ok, 'remove-worker');
    for (const verb of ['kill-worker', 'evict', 'remove-worker']) {
      const missing = await sim(verb, 'nope');
      expectExit(missing, EXIT.notFound, `${verb} nope`);
      assert.match(missing.stderr, /ateflow: pod nope not found/);
    }
    expectExit(await sim('kill-worker'), EXIT.usage, 'kill-worker without a pod');
  });

  it('scales pools and kills nodes; unknown ones are not found (3), bad counts usage (1)', async () => {
    const added = await sim('add-workers', 'default', '2');
    expectExit(added, EXIT.ok, 'add-workers');
    assert.match(added.stdout, /default\/default\s+\d+/);
    expectExit(await sim('add-workers', 'nosuch', '1'), EXIT.notFound, 'add-workers to an unknown pool');
    const badCount = await sim('add-workers', 'default', 'two');
    expectExit(badCount, EXIT.usage, 'add-workers two');
    assert.match(badCount.stderr, /'two' is invalid for argument 'count'/);
    const scaled = await sim('scale', 'default', '4');
    expectExit(scaled, EXIT.ok, 'scale');
    assert.match(scaled.stdout, /default\/default\s+4/);
    expectExit(await sim('scale', 'default', '-1'), EXIT.usage, 'scale -1');
    const killNode = await sim('kill-node', 'sim-node-1');
    expectExit(killNode, EXIT.ok, 'kill-node');
    assert.match(killNode.stdout, /POD\s+RESULT/);
    expectExit(await sim('kill-node', 'nosuch'), EXIT.notFound, 'kill-node nosuch');
    const resync = await sim('resync');
    expectExit(resync, EXIT.ok, 'resync');
    assert.match(resync.stdout, /REGISTERED/);
  });

  it('injects, lists and clears faults; bad codes and probabilities are usage (1)', async () => {
    const fault = await sim(
      'fault',
      'ResumeActor',
      '--code',
      'unavailable',
      '--count',
      '2',
      '--leave-transitional',
    );
    expectExit(fault, EXIT.ok, 'fault');
    const id = /^(f\d+)\s+ResumeActor\s+\*\s+UNAVAILABLE\s+always\s+2\s+atelet/m.exec(fault.stdout)?.[1];
    assert.ok(id, fault.stdout);
    const faults = await sim('faults');
    expectExit(faults, EXIT.ok, 'faults');
    assert.match(faults.stdout, new RegExp(`${id}\\s+ResumeActor`));
    const badCode = await sim('fault', 'ResumeActor', '--code', 'NOPE');
    expectExit(badCode, EXIT.usage, 'fault --code NOPE');
    assert.match(badCode.stderr, /unknown gRPC code NOPE/);
    expectExit(await sim('fault', 'ResumeActor', '--probability', '2'), EXIT.usage, 'probability 2');
    expectExit(await sim('fault', 'Bogus'), EXIT.usage, 'unknown rpc');
    const cleared = await sim('clear-faults', id);
    expectExit(cleared, EXIT.ok, 'clear-faults id');
    assert.match(cleared.stdout, /CLEARED\n1/);
    const again = await sim('clear-faults', id);
    expectExit(again, EXIT.notFound, 'clear-faults of a cleared fault');
    assert.match(again.stderr, new RegExp(`ateflow: no fault ${id}`));
    expectExit(await sim('clear-faults'), EXIT.ok, 'clear-faults all');
  });

  it('says when no simulator answers (4); --timeout is a duration (1)', async () => {
    const none = await ateflow(['sim', '--admin', '127.0.0.1:1', 'workers']);
    expectExit(none, EXIT.unavailable, 'no admin API');
    assert.match(none.stderr, /ateflow: no simulator admin API at 127.0.0.1:1/);
    expectExit(await sim('workers', '--timeout', 'soon'), EXIT.usage, '--timeout soon');
  });

  it('start: serves until interrupted (0); bad flags are usage (1); a port in use is unavailable (4)', async () => {
    const server = spawnAteflow([
      'sim',
      'start',
      '--port',
      '0',
      '--admin-port',
      '0',
      '--data-plane-port',
      '0',
      '--latency-scale',
      '0',
    ]);
    try {
      await waitForOutput(server, /latency scale\s+0/, 30_000);
      const admin = /admin API\s+(\S+)/.exec(server.output())?.[1];
      assert.ok(admin, server.output());
      expectExit(
        await ateflow(['sim', '--admin', admin, 'pools']),
        EXIT.ok,
        'pools of the started simulator',
      );
    } finally {
      assert.equal(await interrupt(server), EXIT.ok, server.output());
    }
    expectExit(await ateflow(['sim', 'start', '--latency-scale', '-1']), EXIT.usage, 'latency -1');
    expectExit(await ateflow(['sim', 'start', '--port', '99999']), EXIT.usage, 'port 99999');
    const noCluster = await ateflow(['sim', 'start', '--cluster', '/nonexistent/cluster.yaml']);
    expectExit(noCluster, EXIT.notFound, 'a cluster file that is not there');
    assert.match(noCluster.stderr, /ateflow: cluster file \/nonexistent\/cluster.yaml: ENOENT/);
    const port = h.sim.adminAddress.slice(h.sim.adminAddress.lastIndexOf(':') + 1);
    const busy = await ateflow([
      'sim',
      'start',
      '--port',
      '0',
      '--admin-port',
      port,
      '--data-plane-port',
      '0',
    ]);
    expectExit(busy, EXIT.unavailable, 'admin port in use');
    assert.match(busy.stderr, /ateflow: cannot listen/);
  });
});

// The npm etcd3 client (an independent implementation of etcd's v3 client:
// @grpc/grpc-js and protobufjs, no code shared with berth) driven against
// berth-lockd's etcd ports by tests/e2e/etcd3_node_e2e_test.cc (issue #18).
//
//   node client.js HOST:PORT,HOST:PORT,... PREFIX
//
// Runs a watch check and a lock check, then prints one JSON line of what it
// observed; the C++ test judges it. Exits 1 (message on stderr) if the client
// library itself fails or a deadline passes.
'use strict';

const { Etcd3, EtcdLockFailedError } = require('etcd3');

const hosts = process.argv[2].split(',');
const prefix = process.argv[3];
const kPuts = 50;
const kLockRounds = 8;  // per contender

// Each client is pinned to one replica, so requests cross replicas and a
// follower has to forward them.
const clients = hosts.map(h => new Etcd3({ hosts: h, dialTimeout: 5000 }));

function deadline(ms, what) {
  let timer;
  const p = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
  });
  p.clear = () => clearTimeout(timer);
  return p;
}

const sleep = ms => new Promise(r => setTimeout(r, ms));

// Puts kPuts keys through replica 0 while a watcher on replica 1 streams them
// live; then a second watcher on replica 2 replays the same range from the
// first put's revision (history).
async function checkWatch() {
  const wp = `${prefix}/watch/`;
  const live = [];
  let liveDone;
  const liveAll = new Promise(r => (liveDone = r));
  const watcher = await clients[1 % clients.length].watch().prefix(wp).create();
  watcher.on('put', kv => {
    live.push({ key: kv.key.toString(), value: kv.value.toString(),
                rev: Number(kv.mod_revision) });
    if (live.length === kPuts) liveDone();
  });
  const acked = [];
  for (let i = 0; i < kPuts; i++) {
    const key = `${wp}${String(i).padStart(3, '0')}`;
    const res = await clients[0].put(key).value(`v${i}`).exec();
    acked.push({ key, value: `v${i}`, rev: Number(res.header.revision) });
  }
  const d1 = deadline(20000, 'live watch events');
  await Promise.race([liveAll, d1]);
  d1.clear();
  await watcher.cancel();

  const replay = [];
  let replayDone;
  const replayAll = new Promise(r => (replayDone = r));
  const resumed = await clients[2 % clients.length].watch().prefix(wp)
      .startRevision(String(acked[0].rev)).create();
  resumed.on('put', kv => {
    replay.push({ key: kv.key.toString(), value: kv.value.toString(),
                  rev: Number(kv.mod_revision) });
    if (replay.length === kPuts) replayDone();
  });
  const d2 = deadline(20000, 'replayed watch events');
  await Promise.race([replayAll, d2]);
  d2.clear();
  await resumed.cancel();

  const same = (a, b) => a.length === b.length &&
      a.every((e, i) => e.key === b[i].key && e.value === b[i].value &&
                        e.rev === b[i].rev);
  return {
    puts: acked.length,
    live_events: live.length,
    live_matches_acks: same(live, acked),
    replayed_events: replay.length,
    replay_matches_acks: same(replay, acked),
    revisions_increase: acked.every((e, i) => i === 0 || e.rev > acked[i - 1].rev),
  };
}

// Two contenders on different replicas take etcd3's lock (a lease plus a
// Txn that puts the lock key only if it does not exist; release revokes the
// lease). Inside the lock each one marks itself the holder, reads the
// counter, yields, and writes it back incremented: two holders at once
// would show as an overlap or a lost increment.
async function checkLock() {
  const name = `${prefix}/lock`;
  const holderKey = `${prefix}/lock-holder`;
  const counterKey = `${prefix}/lock-counter`;
  await clients[0].put(counterKey).value('0');
  let overlaps = 0;
  let refused = 0;
  const grants = {};
  async function contender(id, client) {
    grants[id] = 0;
    for (let done = 0; done < kLockRounds;) {
      const lock = client.lock(name).ttl(5);
      try {
        await lock.acquire();
      } catch (err) {
        if (!(err instanceof EtcdLockFailedError)) throw err;
        refused++;
        await sleep(5 + Math.random() * 20);
        continue;
      }
      try {
        const other = await client.get(holderKey).string();
        if (other !== null && other !== '') overlaps++;
        await client.put(holderKey).value(id);
        const n = Number(await client.get(counterKey).string());
        await sleep(2);
        await client.put(counterKey).value(String(n + 1));
        await client.put(holderKey).value('');
      } finally {
        await lock.release();
      }
      grants[id]++;
      done++;
    }
  }
  const d = deadline(60000, 'lock contenders');
  await Promise.race([
    Promise.all([contender('a', clients[0]),
                 contender('b', clients[1 % clients.length])]),
    d]);
  d.clear();
  // After release the lock key must be gone: the lease revoke deleted it.
  const leftover = await clients[2 % clients.length].get(name).string();
  return {
    rounds: kLockRounds * 2,
    counter: Number(await clients[0].get(counterKey).string()),
    grants,
    overlaps,
    refused_tries: refused,
    lock_key_left: leftover !== null,
  };
}

(async () => {
  const watch = await checkWatch();
  const lock = await checkLock();
  console.log(JSON.stringify({ watch, lock }));
  clients.forEach(c => c.close());
})().catch(err => {
  console.error(`etcd3 client failed: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});

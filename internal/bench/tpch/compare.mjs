// Reads shoal-PATH-N.json (shoal tpch run --json, PATH api or sql) and
// duck-N.json (duckdb_baseline.mjs --json) for N = 1..rounds from a directory
// and prints per-query medians and each path's ratio to DuckDB.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, roundsArg, ...pathArgs] = process.argv.slice(2);
const paths = pathArgs.length ? pathArgs : ['api'];
const rounds = parseInt(roundsArg, 10);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const shoal = Object.fromEntries(paths.map((p) => [p, {}]));
const loads = Object.fromEntries(paths.map((p) => [p, []]));
const duck = {};
const duckLoad = [];
const plan = {};
for (let r = 1; r <= rounds; r++) {
  for (const p of paths) {
    const s = JSON.parse(readFileSync(join(dir, `shoal-${p}-${r}.json`), 'utf8'));
    loads[p].push(s.load_seconds || 0);
    for (const q of s.queries) {
      (shoal[p][q.query] ||= []).push(q.seconds);
      if (q.plan_seconds) (plan[q.query] ||= []).push(q.plan_seconds);
    }
  }
  const d = JSON.parse(readFileSync(join(dir, `duck-${r}.json`), 'utf8'));
  duckLoad.push((d.load_ms || 0) / 1000);
  for (const q of d.results) (duck[q.query] ||= []).push(q.median_ms / 1000);
}
const qs = Object.keys(shoal[paths[0]]).map(Number).filter((q) => duck[q]).sort((a, b) => a - b);
const tot = Object.fromEntries(paths.map((p) => [p, 0]));
const worst = Object.fromEntries(paths.map((p) => [p, [0, 0]]));
let td = 0;
console.log('query ' + paths.map((p) => `${p.padStart(8)}_s`).join(' ') + '  duckdb_s ' + paths.map((p) => `${p.padStart(5)}/duck`).join(' '));
for (const q of qs) {
  const d = median(duck[q]);
  td += d;
  const cells = paths.map((p) => median(shoal[p][q]));
  paths.forEach((p, i) => {
    tot[p] += cells[i];
    if (cells[i] / d > worst[p][0]) worst[p] = [cells[i] / d, q];
  });
  console.log(`Q${String(q).padEnd(4)} ` + cells.map((s) => s.toFixed(3).padStart(10)).join(' ') + ` ${d.toFixed(3).padStart(9)} ` + cells.map((s) => (s / d).toFixed(2).padStart(10)).join(' '));
}
console.log('total ' + paths.map((p) => tot[p].toFixed(3).padStart(10)).join(' ') + ` ${td.toFixed(3).padStart(9)} ` + paths.map((p) => (tot[p] / td).toFixed(2).padStart(10)).join(' '));
for (const p of paths) console.log(`${p}: worst query Q${worst[p][1]} at ${worst[p][0].toFixed(2)}x; load (median) ${median(loads[p]).toFixed(1)} s`);
console.log(`duckdb load (median) ${median(duckLoad).toFixed(1)} s; rounds ${rounds}`);
if (Object.keys(plan).length) {
  const ps = Object.values(plan).map(median);
  console.log(`sql parse+bind+optimize per query: median ${(median(ps) * 1000).toFixed(2)} ms, max ${(Math.max(...ps) * 1000).toFixed(2)} ms`);
}

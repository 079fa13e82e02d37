// Reads shoal-N.json (shoal tpch run --json) and duck-N.json (duckdb_baseline.mjs
// --json) for N = 1..rounds from a directory and prints per-query medians and ratios.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, roundsArg] = process.argv.slice(2);
const rounds = parseInt(roundsArg, 10);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const shoal = {}, duck = {};
let shoalLoad = [], duckLoad = [], correct = [];
for (let r = 1; r <= rounds; r++) {
  const s = JSON.parse(readFileSync(join(dir, `shoal-${r}.json`), 'utf8'));
  const d = JSON.parse(readFileSync(join(dir, `duck-${r}.json`), 'utf8'));
  shoalLoad.push(s.load_seconds || 0);
  duckLoad.push((d.load_ms || 0) / 1000);
  correct.push(s.correct);
  for (const q of s.queries) (shoal[q.query] ||= []).push(q.seconds);
  for (const q of d.results) (duck[q.query] ||= []).push(q.median_ms / 1000);
}
const qs = Object.keys(shoal).map(Number).filter((q) => duck[q]).sort((a, b) => a - b);
let ts = 0, td = 0, worst = 0, worstQ = 0;
console.log('query   shoal_s  duckdb_s   ratio');
for (const q of qs) {
  const s = median(shoal[q]), d = median(duck[q]);
  ts += s; td += d;
  const ratio = s / d;
  if (ratio > worst) { worst = ratio; worstQ = q; }
  console.log(`Q${String(q).padEnd(5)} ${s.toFixed(3).padStart(8)} ${d.toFixed(3).padStart(9)} ${ratio.toFixed(2).padStart(7)}`);
}
console.log(`total   ${ts.toFixed(3).padStart(8)} ${td.toFixed(3).padStart(9)} ${(ts / td).toFixed(2).padStart(7)}`);
console.log(`worst query: Q${worstQ} at ${worst.toFixed(2)}x; load (median): shoal ${median(shoalLoad).toFixed(1)} s, duckdb ${median(duckLoad).toFixed(1)} s; rounds ${rounds}`);

#!/usr/bin/env node
// NLP.js (node-nlp) side of Conversa's CLINC150 NLU benchmark.
//
//   node clinc.js --data PATH/data_full.json [--per-intent N] [--seed S]
//
// Protocol "oos-threshold": train on `train` only (first N examples of each
// intent in file order when N > 0, all of them when N = 0), choose the
// out-of-scope threshold on the top score over val + oos_val, report on
// test + oos_test. Exactly one JSON line goes to stdout; everything else goes
// to stderr.
'use strict';

const fs = require('fs');
const path = require('path');

function fail(msg) {
  process.stderr.write(`clinc.js: ${msg}\n`);
  process.exit(2);
}

function log(msg) {
  process.stderr.write(`[nlp.js] ${msg}\n`);
}

const USAGE =
  'usage: node clinc.js --data PATH [--per-intent N] [--seed S]\n' +
  '  --data        CLINC150 data_full.json (keys train, val, test, oos_val, oos_test)\n' +
  '  --per-intent  use only the first N training examples of each intent (0 = all; default 0)\n' +
  '  --seed        accepted for symmetry with the other systems; NLP.js training is\n' +
  '                deterministic and has no seed (default 1)';

function parseArgs(argv) {
  const opts = { data: '', perIntent: 0, seed: 1 };
  const intArg = (name, v) => {
    if (v === undefined || !/^\d+$/.test(v)) {
      fail(`${name} needs a non-negative integer, got ${JSON.stringify(v)}\n${USAGE}`);
    }
    return Number(v);
  };
  for (let i = 0; i < argv.length; i += 1) {
    let a = argv[i];
    let v;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) {
      v = a.slice(eq + 1);
      a = a.slice(0, eq);
    } else if (a.startsWith('--') && a !== '--help' && a !== '-h') {
      i += 1;
      v = argv[i];
    }
    switch (a) {
      case '--data':
        if (!v) fail(`--data needs a path\n${USAGE}`);
        opts.data = v;
        break;
      case '--per-intent':
        opts.perIntent = intArg('--per-intent', v);
        break;
      case '--seed':
        opts.seed = intArg('--seed', v);
        break;
      case '-h':
      case '--help':
        process.stderr.write(`${USAGE}\n`);
        process.exit(0);
        break;
      default:
        fail(`unknown argument ${JSON.stringify(argv[i])}\n${USAGE}`);
    }
  }
  if (!opts.data) fail(`--data is required\n${USAGE}`);
  return opts;
}

function loadData(file) {
  let raw;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch (err) {
    fail(`cannot read data file ${file}: ${err.message}`);
  }
  let data;
  try {
    data = JSON.parse(raw);
  } catch (err) {
    fail(`data file ${file} is not valid JSON: ${err.message}`);
  }
  for (const key of ['train', 'val', 'test', 'oos_val', 'oos_test']) {
    const split = data[key];
    if (!Array.isArray(split) || split.length === 0) {
      fail(`data file ${file} has no non-empty list "${key}"`);
    }
    for (const item of split) {
      if (!Array.isArray(item) || typeof item[0] !== 'string' || typeof item[1] !== 'string') {
        fail(`data file ${file}: "${key}" holds an item that is not [text, intent]: ${JSON.stringify(item)}`);
      }
    }
  }
  return data;
}

// First n examples of each intent in file order (n = 0: all).
function selectTrain(train, n) {
  if (n === 0) return train.slice();
  const seen = new Map();
  const out = [];
  for (const item of train) {
    const c = seen.get(item[1]) || 0;
    if (c < n) {
      out.push(item);
      seen.set(item[1], c + 1);
    }
  }
  return out;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  // nearest-rank
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

// The best non-None classification of an NLP.js result. NLP.js itself
// replaces the intent by 'None' (score 1) when the top score is under its own
// threshold (0.5), when the two best scores tie, or when its None perceptron
// wins; `classifications` keeps the raw scores. If only None is there, the
// score is 0.
function bestIntent(result) {
  let intent = 'None';
  let score = 0;
  for (const c of result.classifications || []) {
    if (c.intent !== 'None' && c.score > score) {
      intent = c.intent;
      score = c.score;
    }
  }
  return { intent, score };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const data = loadData(opts.data);

  // Anything the library prints with console.log must not reach stdout:
  // stdout carries only the final JSON line.
  console.log = (...args) => process.stderr.write(`${args.join(' ')}\n`);
  console.info = console.log;
  console.warn = console.log;

  let nodeNlp;
  let version;
  try {
    nodeNlp = require('node-nlp');
    // eslint-disable-next-line import/no-dynamic-require, global-require
    version = require(path.join(path.dirname(require.resolve('node-nlp')), '..', 'package.json')).version;
  } catch (err) {
    fail(`cannot load node-nlp (run "npm ci" in ${__dirname} first): ${err.message}`);
  }
  const { NlpManager } = nodeNlp;

  const train = selectTrain(data.train, opts.perIntent);
  const intents = new Set(train.map((x) => x[1]));
  log(`node-nlp ${version}; training on ${train.length} examples of ${intents.size} intents ` +
    `(per-intent ${opts.perIntent}); seed ${opts.seed} unused: NLP.js training is deterministic`);

  let lastEpochLog = 0;
  const manager = new NlpManager({
    languages: ['en'],
    autoSave: false,
    autoLoad: false,
    // No sentiment analysis and no entity extraction: only the intent classifier
    // runs in process(). (NER runs only with forceNER or slots; the builtin
    // entity list is emptied anyway.)
    calculateSentiment: false,
    forceNER: false,
    ner: { builtins: [] },
    nlu: {
      log: (status) => {
        const now = Date.now();
        if (now - lastEpochLog > 10000) {
          lastEpochLog = now;
          log(`epoch ${status.iterations} loss ${status.error}`);
        }
      },
    },
  });
  for (const [text, intent] of train) {
    manager.addDocument('en', text, intent);
  }

  const t0 = process.hrtime.bigint();
  await manager.train();
  const trainSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  log(`trained in ${trainSeconds.toFixed(2)} s`);

  const WARMUP = 50;
  let calls = 0;
  const latencies = [];
  async function classify(text) {
    const start = process.hrtime.bigint();
    const result = await manager.process('en', text);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    calls += 1;
    if (calls > WARMUP) latencies.push(ms);
    return bestIntent(result);
  }

  // Queries are classified in the order val, oos_val, test, oos_test; the
  // first 50 process() calls are the warm-up and are not timed.
  const run = async (items, oos) => {
    const out = [];
    for (const [text, intent] of items) {
      const r = await classify(text);
      out.push({ gold: oos ? null : intent, pred: r.intent, score: r.score });
    }
    return out;
  };
  const val = (await run(data.val, false)).concat(await run(data.oos_val, true));
  log(`classified ${val.length} validation queries`);
  const test = await run(data.test, false);
  const oosTest = await run(data.oos_test, true);
  log(`classified ${test.length} in-scope and ${oosTest.length} out-of-scope test queries`);

  // Threshold: a query is rejected when score < threshold. Candidates are 0
  // (reject nothing) and every distinct validation score (reject everything
  // strictly below it), plus one above the maximum (reject everything). Ties
  // in accuracy go to the lowest threshold.
  const cands = Array.from(new Set(val.map((v) => v.score))).sort((a, b) => a - b);
  const sorted = val.slice().sort((a, b) => a.score - b.score);
  // accepted and correct if in scope with right intent; rejected and correct if OOS.
  let correctIfAccepted = 0;
  for (const v of val) if (v.gold !== null && v.pred === v.gold) correctIfAccepted += 1;
  let best = { threshold: 0, correct: correctIfAccepted };
  let i = 0;
  let correct = correctIfAccepted; // threshold 0: nothing rejected
  const step = (v) => {
    // v becomes rejected
    if (v.gold === null) correct += 1;
    else if (v.pred === v.gold) correct -= 1;
  };
  const thresholds = cands.concat([cands.length ? cands[cands.length - 1] + 1e-9 : 1]);
  for (const th of thresholds) {
    while (i < sorted.length && sorted[i].score < th) {
      step(sorted[i]);
      i += 1;
    }
    if (correct > best.correct) best = { threshold: th, correct };
  }
  const threshold = best.threshold;
  log(`threshold ${threshold} (val accuracy ${(best.correct / val.length).toFixed(4)})`);

  let inRight = 0;
  let inRejected = 0;
  for (const t of test) {
    if (t.score < threshold) inRejected += 1;
    else if (t.pred === t.gold) inRight += 1;
  }
  let oosRejected = 0;
  for (const t of oosTest) if (t.score < threshold) oosRejected += 1;

  latencies.sort((a, b) => a - b);
  const round = (x, d) => Number(x.toFixed(d));
  const out = {
    name: 'nlp.js',
    version,
    per_intent: opts.perIntent,
    train_seconds: round(trainSeconds, 3),
    in_scope_accuracy: round(inRight / test.length, 6),
    oos_recall: round(oosRejected / oosTest.length, 6),
    in_scope_rejected: round(inRejected / test.length, 6),
    threshold,
    latency_p50_ms: round(percentile(latencies, 50), 4),
    latency_p99_ms: round(percentile(latencies, 99), 4),
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((err) => {
  process.stderr.write(`clinc.js: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});

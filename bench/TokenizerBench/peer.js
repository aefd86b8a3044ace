// Peer for TokenizerBench: HF tokenizers (Rust, npm tokenizers@0.23.2) encode throughput, one call at a time.
// usage: node peer.js <tokenizer.json> <corpus.json (array of chunks)> <runs>   -> prints "median_seconds total_ids"
const fs = require('fs');
const { Tokenizer } = require(process.env.TOKENIZERS_NODE_MODULE || 'tokenizers');
const [tokPath, corpusPath, runsArg] = process.argv.slice(2);
const tok = Tokenizer.fromFile(tokPath);
const chunks = JSON.parse(fs.readFileSync(corpusPath, 'utf8'));
(async () => {
  const times = []; let ids = 0;
  for (let r = 0; r < Number(runsArg) + 1; r++) {           // first run is warm-up
    const t0 = process.hrtime.bigint();
    let n = 0;
    for (const c of chunks) n += (await tok.encode(c, null, { addSpecialTokens: false })).getIds().length;
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r > 0) times.push(s);
    ids = n;
  }
  times.sort((a, b) => a - b);
  console.log(times[Math.floor(times.length / 2)] + ' ' + ids);
})().catch(e => { console.error(e); process.exit(1); });

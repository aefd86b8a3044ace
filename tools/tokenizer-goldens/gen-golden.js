// Golden generator: the official HF Rust `tokenizers` (npm tokenizers@0.23.2) encodes/decodes every text.
// usage: node gen-golden.js <tokenizer.json> <texts.json> > golden.jsonl   (same as /work/shared/oracles/gen-golden.js)
const fs = require('fs');
const { Tokenizer } = require('tokenizers');
const [tokPath, textsPath] = process.argv.slice(2);
const tok = Tokenizer.fromFile(tokPath);
const texts = JSON.parse(fs.readFileSync(textsPath, 'utf8'));
(async () => {
  for (const text of texts) {
    for (const addSpecialTokens of [false, true]) {
      const e = await tok.encode(text, null, { addSpecialTokens });
      const ids = e.getIds();
      process.stdout.write(JSON.stringify({
        text, addSpecialTokens, ids, tokens: e.getTokens(),
        decoded: await tok.decode(ids, false), decodedSkipSpecial: await tok.decode(ids, true),
      }) + '\n');
    }
  }
})().catch(e => { console.error(e); process.exit(1); });

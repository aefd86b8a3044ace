// Rebuilds the real LLaMA-1/2 (also TinyLlama) tokenizer.json from llama-tokenizer-js@1.2.2's embedded vocab + merges,
// with the HF Llama-2 pipeline. Vocab data: Meta, Llama 2 licence (so the file is built, not committed).
// usage: node build-llama2.mjs <extracted llama-tokenizer-js package dir> <out tokenizer.json>
import fs from 'fs';
import path from 'path';
import { pathToFileURL } from 'url';
const [pkg, out] = process.argv.slice(2);
const llamaTokenizer = (await import(pathToFileURL(path.resolve(pkg, 'llama-tokenizer.js')).href)).default;
const vocab = {}; for (const [id, tok] of Object.entries(llamaTokenizer.vocabById)) vocab[tok] = Number(id);
const byPrio = [...llamaTokenizer.merges.entries()].sort((a, b) => a[1] - b[1]).map(([k]) => k);
const sp = (c, id) => ({ id, content: c, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
const json = { version: '1.0', truncation: null, padding: null, added_tokens: [sp('<unk>', 0), sp('<s>', 1), sp('</s>', 2)],
  normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
  pre_tokenizer: null,
  post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
    pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<s>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
    special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } } },
  decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
  model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, vocab, merges: byPrio } };
fs.writeFileSync(out, JSON.stringify(json));

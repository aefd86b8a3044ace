// Writes texts.json: the deterministic list of test strings (>= 300) for the tokenizer goldens.
// usage: node make-texts.js > texts.json
const base = [
  '', ' ', '  ', '\t', '\n', '\r\n', 'Hello world', ' leading space', 'trailing space ', 'Hello  world   !',
  "don't I'LL we've they'RE she'S it'd you'M", "DON'T WON'T Y'ALL", "'s 't 're 've 'm 'll 'd", "O'Neil's café",
  '12345678', '3.14159 2,718 1e-9 0x1F 0b1010 100%', '1 22 333 4444 55555 666666', 'Phone: +1 (555) 123-4567',
  'héllo naïve café', 'e\u0301 vs é', 'Ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３', 'ﬁ ﬂ ① ㎒ Ⅻ', 'A\u030A \u212B Å',
  'emoji 👍🏽 🤖', '👨‍👩‍👧‍👦 family', '🏳️‍🌈 🇺🇸🇯🇵🇩🇪', '👋🏻👋🏼👋🏽👋🏾👋🏿', '❤️‍🔥 🧑🏽‍💻', '😀😃😄😁😆😅😂🤣',
  'def f(x):\n    return  x  *  2\n\n\n\tend', 'for (int i = 0; i < n; i++) { sum += a[i]; }', '<div class="a">&amp;</div>',
  'SELECT * FROM t WHERE id = 42;', 'fn main() { println!("{}", 1 + 2); }', '#include <stdio.h>\nint main(void){return 0;}',
  'line1\r\nline2\r\n\r\nline3', 'a\u0000b\u0001c\u001fd\u007f', 'tab\tsep\tvalues\t\t', 'NBSP\u00a0here em\u2003space ideo\u3000space',
  'zero\u200bwidth joiner\u200d', 'line\u2028sep para\u2029sep', '\u0085next line', 'mixed \n \n  \n',
  '日本語のテキストです。', '中文测试，包括标点符号！', '한국어 텍스트입니다', 'Русский текст с пробелами', 'Ελληνικά κείμενα',
  'עברית מימין לשמאל', 'العربية النص', 'हिन्दी पाठ', 'বাংলা লেখা', 'ภาษาไทยไม่มีช่องว่าง', 'Tiếng Việt có dấu', 'ქართული ენა',
  'Հայերեն', 'አማርኛ', 'தமிழ் எழுத்து', 'తెలుగు', 'Türkçe İı ğ ş', 'Ελληνικό ΣΊΣΥΦΟΣ', '𝐀𝐁𝐂 𝟎𝟏𝟐 𠀀𠀁', '𐌰𐌱 Gothic',
  '<|im_start|>user\nhi<|im_end|>', '<|begin_of_text|>hi<|eot_id|>', '<s>Hello</s>', '<start_of_turn>user\nhi<end_of_turn>',
  '<|endoftext|>after', 'before<|endoftext|>', '<think>\nreasoning\n</think>\nanswer', '<tool_call>{"a":1}</tool_call>',
  ' <s> spaced </s> ', '<unk>', '<s><s></s>', '<|im_start|><|im_end|>', 'x<|im_start|>y', '<bos>text<eos>',
  'a'.repeat(50), 'x'.repeat(1000), ' '.repeat(30), '\n'.repeat(10), '!!!???...,,,', '—–-‒―', '«quotes» “curly” ‘single’',
  '$100 €200 £300 ¥400 ₹500', 'math: ∑∫∂√∞≈≠≤≥', 'arrows → ← ↑ ↓ ⇒', 'https://example.com/path?q=1&r=2#frag', 'user@example.org',
  'CamelCaseIdentifierName snake_case_name kebab-case-name', 'ALLCAPS lowercase MiXeD', '   indented\n\tmore', 'end.',
];
const words = ['the', 'quick', 'brown', 'fox', 'jumps', 'over', 'lazy', 'dog', 'naïve', 'Zürich', '東京', 'Москва', '🙂', '42', "it's", 'e\u0301', '\t', '  ', '\r\n', '...'];
let seed = 12345;
const rnd = (n) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
const gen = [];
for (let i = 0; i < 160; i++) {
  const k = 1 + rnd(12); const parts = [];
  for (let j = 0; j < k; j++) parts.push(words[rnd(words.length)]);
  gen.push(parts.join(rnd(3) === 0 ? '' : ' '));
}
// Random code points from many blocks, including combining marks and controls.
const ranges = [[0x20, 0x7e], [0xa0, 0x24f], [0x300, 0x36f], [0x370, 0x3ff], [0x400, 0x4ff], [0x590, 0x6ff], [0x900, 0x97f],
  [0xe00, 0xe7f], [0x1100, 0x11ff], [0x2000, 0x206f], [0x3040, 0x30ff], [0x4e00, 0x4fff], [0xac00, 0xad00], [0x1f300, 0x1f64f], [0x1d400, 0x1d7ff], [0x0, 0x1f]];
for (let i = 0; i < 60; i++) {
  let s = ''; const n = 1 + rnd(20);
  for (let j = 0; j < n; j++) { const [a, b] = ranges[rnd(ranges.length)]; s += String.fromCodePoint(a + rnd(b - a + 1)); }
  gen.push(s);
}
const long = Array.from({ length: 60 }, (_, i) => base[10 + (i * 7) % 80]).join(' ');
const texts = [...base, ...gen, long, long.repeat(3)];
process.stdout.write(JSON.stringify(texts, null, 0) + '\n');
console.error('texts:', texts.length);

// Extracts the (template, data) pairs of huggingface.js packages/jinja/test/e2e.test.js (MIT) into JSON.
// usage: node extract_e2e.js <e2e.test.js> > e2e.json
// The test file is ESM with vitest imports; the part before `describe(` is plain data, so it is evaluated alone.
const fs = require('fs');
const src = fs.readFileSync(process.argv[2], 'utf8');
const body = src.split('\n').filter(l => !l.startsWith('import ')).join('\n').split(/^describe\(/m)[0];
const data = new Function(body + '\nreturn TEST_CUSTOM_TEMPLATES;')();
const out = Object.entries(data).map(([name, v]) => ({ name, template: v.chat_template, data: v.data }));
process.stdout.write(JSON.stringify(out));

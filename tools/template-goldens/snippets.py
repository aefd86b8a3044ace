"""Small templates exercising one semantic each (reference section 5.2); goldens come from Jinja2, not from us."""

VARS = {"d": {"a": 1, "b": "é"}, "s": "hé👍", "l": [3, 1, 2], "n": None, "f": 21.0, "big": 12345678901234567890,
        "msgs": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y", "tool_calls": []}],
        "t": "  padded\n", "empty": [], "nested": {"x": {"y": [1, {"z": True}]}}}

SNIPPETS = [
    # whitespace control, trim_blocks, lstrip_blocks, trailing newline
    "a\n  {% if true %}\n  b\n  {% endif %}\nc\n",
    "a  {%- if true -%}  b  {%- endif -%}  c",
    "{{ 'x' -}}\n\n  {{- 'y' }}",
    "  {%+ if true %}x{% endif %}\n{% if true +%}\ny{% endif %}",
    "{# comment #}\n  {#- c2 -#}  x\n",
    "line\n    {{ 'v' }}  \n  {% set q = 1 %}\nend\n\n",
    "{% raw %}{{ not rendered }}{% endraw %}",
    # scoping
    "{% set f = false %}{% for m in [1] %}{% set f = true %}{% endfor %}{{ f }}",
    "{% if true %}{% set g = 1 %}{% endif %}{{ g }}",
    "{% for i in [1,2] %}{% if i == 2 %}[{{ x }}]{% endif %}{% set x = i %}{% endfor %}",
    "{% set ns = namespace(c=0, last=none) %}{% for i in l %}{% set ns.c = ns.c + i %}{% endfor %}{{ ns.c }} {{ ns.last }}",
    "{% for m in msgs %}{% set m = m.role %}{{ m }}{% endfor %}",
    "{% set x %}  a {{ 1 + 1 }} {% endset %}[{{ x }}]",
    "{% set a, b = 1, 2 %}{{ a }}{{ b }}",
    # loop
    "{% for i in l %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }};{% endfor %}",
    "{% for i in l %}{{ loop.previtem }}-{{ loop.nextitem }}|{% endfor %}",
    "{% for i in l if i > 1 %}{{ loop.index }}/{{ loop.length }} {% else %}none{% endfor %}",
    "{% for i in empty %}x{% else %}empty{% endfor %}",
    "{% for i in [1,2,3,4] %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 4 %}{% break %}{% endif %}{{ i }}{% endfor %}",
    "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k, v in d|items %}{{ k }}{% endfor %}",
    "{% for k in d %}{{ k }}{% endfor %}{% for c in s %}[{{ c }}]{% endfor %}",
    "{% for x in [1,2] %}{% for y in 'ab' %}{{ loop.index }}{{ y }}{% endfor %}{{ loop.index }}{% endfor %}",
    # macros and call
    "{% macro m(a, b=2) %}[{{ a }}{{ b }}{{ caller() if caller }}]{% endmacro %}{{ m(1) }}{{ m(3, b=4) }}{% call m(5) %}in{% endcall %}",
    "{% macro v() %}{{ varargs }}{{ kwargs }}{% endmacro %}{{ v(1, 2, k=3) }}",
    "{% filter upper %}abc {{ 'd' }}{% endfilter %}",
    "{% generation %}gen {{ 1 }}{% endgeneration %}",
    # printing Python values
    "{{ n }} {{ true }} {{ false }} {{ f }} {{ big }} {{ 1.5e-7 }} {{ 1e20 }} {{ 0.1 + 0.2 }} {{ -0.0 }} {{ 3.14 }}",
    "{{ d }} {{ l }} {{ ('a', 1) }} {{ ('a',) }} {{ [\"it's\", 'a\"b', '\\n', n, true, 1.0] }} {{ msgs[0] }}",
    "{{ d|string }} {{ l|string }} {{ n|string }} {{ undefined_thing|string }}|",
    # tojson like transformers
    "{{ d|tojson }} {{ f|tojson }} {{ big|tojson }} {{ nested|tojson }} {{ 'é\\n\\t\"\\\\\\x01'|tojson }} {{ n|tojson }}",
    "{{ nested|tojson(indent=2) }}\n{{ l|tojson(indent=4) }}\n{{ empty|tojson(indent=2) }} {{ {}|tojson(indent=2) }}",
    "{{ d|tojson(separators=(',', ':')) }} {{ d|tojson(ensure_ascii=true) }} {{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }}",
    # arithmetic and operators
    "{{ 1/2 }} {{ 4/2 }} {{ 7//2 }} {{ -7//2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 2**10 }} {{ -2 ** 2 }} {{ 1 + 2 * 3 }} {{ 7.5 // 2 }}",
    "{{ 'a' ~ 1 ~ none ~ undefined_thing }} {{ 'x' * 3 }} {{ [1] * 2 }} {{ [1] + [2] }} {{ 'a' + 'b' }}",
    "{{ l|length - 1 }} {{ 'ab' + 'cd'|upper }} {{ not 1 == 2 }} {{ 2 > 1 > 0 }} {{ 1 if false else 2 }} {{ 1 if false }}|",
    "{{ 'a' in 'cat' }} {{ 'a' in d }} {{ 1 in l }} {{ 5 not in l }} {{ 'z' not in d }}",
    "{{ [1,2] == [1,2] }} {{ d == {'a': 1, 'b': 'é'} }} {{ 1 == 1.0 }} {{ true == 1 }} {{ msgs[0] == msgs[-1] }} {{ none == none }}",
    "{{ x == y }} {{ 0 or 'a' }} {{ '' and 'b' }} {{ [] or {} }}|",
    # subscripts, slices
    "{{ s[::-1] }} {{ s|length }} {{ s[1] }} {{ s[-1] }} {{ l[::-1] }} {{ l[1:] }} {{ l[:-1] }} {{ l[::2] }} {{ l[5:] }} {{ 'abcdef'[4:1:-1] }} {{ l[-10:10] }}",
    "{{ l[5] }}|{{ d.zz }}|{{ d['zz'] }}|{{ n.x }}|{{ msgs[0].role }}{{ msgs[0]['content'] }}{{ nested.x.y[1].z }}",
    # tests
    "{{ x is defined }} {{ d is defined }} {{ n is none }} {{ x is none }} {{ x is undefined }} {{ n is not none }}",
    "{{ 'a' is string }} {{ 1 is number }} {{ 1.0 is float }} {{ 1 is integer }} {{ true is boolean }} {{ true is true }} {{ 0 is false }} {{ false is false }}",
    "{{ d is mapping }} {{ l is mapping }} {{ 'a' is iterable }} {{ l is iterable }} {{ d is iterable }} {{ 1 is iterable }} {{ 'a' is sequence }} {{ l is sequence }} {{ x is iterable }}",
    "{{ 3 is divisibleby 3 }} {{ 4 is even }} {{ 3 is odd }} {{ 1 is eq 1 }} {{ 1 is equalto 2 }} {{ 2 is gt 1 }} {{ 'A' is upper }} {{ 'a' is lower }} {{ 1 is in l }}",
    # filters
    "{{ t|trim }}|{{ 'xxhixx'|trim('x') }}|{{ 'hello world'|title }}|{{ 'hELLO'|capitalize }}|{{ 'a'|upper }}{{ 'B'|lower }}",
    "{{ l|join(',') }} {{ l|first }} {{ l|last }} {{ l|min }} {{ l|max }} {{ l|sum }} {{ l|sort }} {{ l|sort(reverse=true) }} {{ ['b', 'A', 'a']|sort }}",
    "{{ [1, 1, 2]|unique|list }} {{ ['A', 'a']|unique|list }} {{ {'b': 1, 'a': 2}|dictsort }} {{ {'b': 1, 'a': 2}|dictsort(by='value') }}",
    "{{ msgs|selectattr('role', 'equalto', 'user')|list }} {{ msgs|rejectattr('role', 'eq', 'user')|map(attribute='role')|list }}",
    "{{ msgs|selectattr('tool_calls', 'undefined')|list|length }} {{ msgs|selectattr('tool_calls', 'defined')|list|length }} {{ msgs|map(attribute='nope', default='dft')|list }}",
    "{{ l|select('odd')|list }} {{ l|reject('odd')|list }} {{ [0, 1, '', 'a']|select|list }} {{ ['a', 'bb']|map('length')|list }} {{ ['a', 'b']|map('upper')|join }}",
    "{{ l|reject('equalto', 3)|list }} {{ msgs|map(attribute='role')|join(', ') }} {{ l|map('string')|list }}",
    "{{ none|default('d') }} {{ ''|default('d') }} {{ ''|default('d', true) }} {{ x|default('u') }} {{ x|d('v') }}",
    "{{ 'a b a'|replace('a', 'c') }} {{ 'aaa'|replace('a', 'b', 2) }} {{ 1|string }}{{ 3.7|int }} {{ '3'|int }} {{ 'a'|int }} {{ '1.9'|int }} {{ 2|float }} {{ '12'|float }} {{ true|int }}",
    "{{ 'Hi'|list }} {{ d|list }} {{ d|length }} {{ l|reverse|list }} {{ 'ab'|reverse }} {{ d|items|list }} {{ x|length }} {{ x|list }}",
    "{{ 'a\\nb\\n\\nc'|indent(2) }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent(2, blank=true) }}|{{ 'x'|indent(first=true) }}|{{ 'x'|center(6) }}|",
    "{{ 2.5|round }} {{ 2.45|round(1) }} {{ 3|round }} {{ 2.7|round(method='floor') }} {{ -3|abs }} {{ '%s-%d'|format('a', 3) }} {{ '<a>'|e }} {{ '<b>'|safe }}",
    "{{ [1, 2, 3, 4, 5]|batch(2)|list }} {{ 'a b  c'|wordcount }} {{ d|attr('a') }} {{ 'long text here'|truncate(9) }}",
    # string / dict / list methods
    "{{ s.upper() }} {{ 'a b  c'.split() }} {{ 'a,b,,c'.split(',') }} {{ 'a,b,c'.split(',', 1) }} {{ '  x '.strip() }}|{{ '\\nx\\n'.lstrip('\\n') }}|{{ 'x\\n\\n'.rstrip('\\n') }}|",
    "{{ 'abc'.startswith('a') }} {{ 'abc'.endswith(('x', 'c')) }} {{ 'a-b'.replace('-', '+') }} {{ 'they are'.title() }} {{ 'Ab'.lower() }} {{ 'x</think>y'.split('</think>')[-1] }}",
    "{{ '{} and {}'.format(1, 'b') }} {{ '{0}{0}'.format('z') }} {{ '{name}!'.format(name='n') }} {{ ', '.join(['a', 'b']) }} {{ 'abcabc'.find('c') }} {{ 'abcabc'.count('bc') }}",
    "{{ d.get('a') }} {{ d.get('zz') }} {{ d.get('zz', 5) }} {{ d.keys()|list }} {{ d.values()|list }} {{ d.items()|list }} {{ l.index(1) }} {{ l.count(3) }}",
    "{{ '%s and %s' % ('a', 'b') }} {{ '%d%%' % 5 }} {{ 'x'.rjust(3) }}|{{ 'l1\\nl2\\n'.splitlines() }} {{ 'a b c'.rsplit(' ', 1) }}",
    # literals and globals
    "{{ {'a': [1, 2], 'b': {'c': none}} }} {{ [] }} {{ {} }} {{ () }} {{ 'ab' 'cd' }} {{ \"q'q\" }} {{ 'é\\u00e9\\x41' }} {{ 1_000 }}",
    "{{ range(3)|list }} {{ range(1, 7, 2)|list }} {{ range(5, 0, -2)|list }} {{ dict(a=1, b=[2]) }} {{ namespace(a=1).a }}",
    "{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}{{ a }}",
    "{{ strftime_now('%d %b %Y') }} {{ strftime_now('%Y-%m-%d %H:%M:%S %A %B') }}",
    "{{ (1, 2) == (1, 2) }} {{ [1, [2, {'a': 3}]] == [1, [2, {'a': 3}]] }} {{ {'a': 1, 'b': 2} == {'b': 2, 'a': 1} }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }}",
    # more corners (added after the first pass)
    "{% for i in l %}{{ loop.cycle('a', 'b') }}{% endfor %} {{ 'a' < 'b' }} {{ 'B' < 'a' }} {{ '%s' % d }} {{ ('a', 1)|tojson }}",
    "{{ d|join(',') }} {{ l.0 }} {{ d|first }} {{ 'abc'|last }} {{ 1 + 1.5 }} {{ 10 / 4 }} {{ 2 ** -1 }} {{ true + 1 }} {{ 'a' ~ 1.0 }}",
    "{{ 1e16 }} {{ 1e15 }} {{ 123456789012345678.0 }} {{ 0.0001 }} {{ 0.00001 }} {{ 1/3 }} {{ 2.5e-300 * 1e-10 }} {{ -1.5 }}",
    "{{ ['\t', '\x00', 'é', '😀', '\u200b', \"'\", '\\\\'] }} {{ {1: 'a', 2.5: none, true: 1} }} {{ {1: 'a'}|tojson }}",
    "{{ 'hello-world (x) [y]'|title }} {{ x|upper }}|{{ x|trim }}|{{ x|join }}|{{ x|first }}|{{ x|default }}|",
    "{% if x is not defined %}nd{% endif %}{% set y = [1, 2] %}{{ y[-1] }}{{ nested['x']['y'][1]['z'] }}",
    "{{ '😀a😀'[1] }} {{ '😀a😀'[::-1] }} {{ '😀'|length }} {{ 'a😀b'|list }} {{ '😀x'|center(6) }}|",
    "x\r\n  {% if true %}\r\ny\r\n  {% endif %}\r\nz\r\n",
    "{%- if true %}\n  a\n{%- endif %}\n   {{- 'b' }}",
    "  {% for i in [1, 2] %}\n    {{ i }}\n  {% endfor %}\n",
    "{{ 'a' }}  \n  {# c #}  \n{{ 'b' }}",
    "{% set msgs2 = msgs[1:] %}{{ msgs2|length }}{% for m in msgs2 %}{{ m.role }}{% endfor %}{{ msgs|selectattr('content')|map(attribute='content')|join }}",
    "{{ nested|tojson(indent=2, ensure_ascii=false) }} {{ {'k': 'é😀'}|tojson(ensure_ascii=true) }} {{ [[], {}, [1]]|tojson(indent=1) }}",
    "{{ 'Ab Cd'.split(' ')|map('lower')|join('_') }} {{ 'a' * 0 }}| {{ 3 // 2 * 2 }} {{ 7 % 2 == 1 }} {{ (1 + 2) * 3 }}",
    "{{ 'x' if 1 > 2 else 'y' if 2 > 1 else 'z' }} {{ not true or true }} {{ not (true or true) }} {{ 1 in [1] and 2 in [2] }}",
]

ERRORS = [
    "{{ x > 1 }}", "{{ none < 1 }}", "{% for i in none %}{% endfor %}", "{{ none|length }}", "{{ x.items() }}",
    # runtime errors, as Jinja2 raises them
    "{{ x.y }}", "{{ x() }}", "{{ x + 1 }}", "{{ x['a'] }}", "{{ 'a' + 1 }}", "{{ [1] + x }}", "{{ 5 / 0 }}",
    "{{ x|tojson }}", "{{ l.append(1) }}", "{{ d.x.y }}", "{{ raise_exception('Custom: bad roles') }}",
    "{% for a, b in [1] %}{% endfor %}", "{{ 1 < 'a' }}", "{{ none + 1 }}", "{% set q = 1 %}{% set q.a = 1 %}",
    # syntax errors: Jinja reports the line
    "{% if true %}\nunclosed", "line1\n{{ 1 + }}", "{% for x in %}{% endfor %}", "{% endfor %}", "a\nb\n{% unknowntag %}",
    "{{ 'unterminated }}", "{{ x|nosuchfilter }}", "\n\n{{ 1 is nosuchtest }}", "{% macro m( %}{% endmacro %}", "{{ (1, 2 }}",
]

import { describe, expect, it } from 'vitest';
import { el, escapeXml, listParam, parseQuery, structListParam, text } from '../../../../harness/twin/aws/query.ts';

describe('AWS Query protocol helpers', () => {
  it('reads member lists in index order and stops at the first gap', () => {
    const q = parseQuery('Action=X&Names.member.2=b&Names.member.1=a&Names.member.4=d');
    expect(listParam(q, 'Names.member')).toEqual(['a', 'b']);
    expect(listParam(parseQuery('InstanceId.1=i-1&InstanceId.2=i-2'), 'InstanceId')).toEqual(['i-1', 'i-2']);
  });

  it('reads structure lists (ELBv2 Targets.member.N.Field, EC2 Filter.N.Value.M)', () => {
    const q = parseQuery('Targets.member.2.Id=127.0.9.2&Targets.member.1.Id=127.0.9.1&Targets.member.1.Port=80&Filter.1.Name=tag%3Aa&Filter.1.Value.1=x%20y');
    expect(structListParam(q, 'Targets.member')).toEqual([{ Id: '127.0.9.1', Port: '80' }, { Id: '127.0.9.2' }]);
    expect(structListParam(q, 'Filter')).toEqual([{ Name: 'tag:a', 'Value.1': 'x y' }]);
  });

  it('escapes text and omits absent elements', () => {
    expect(escapeXml(`<a href="x">&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;');
    expect(text('Reason', undefined)).toBe('');
    expect(text('Port', 80)).toBe('<Port>80</Port>');
    expect(el('Tags')).toBe('<Tags/>');
    expect(el('Tags', text('Key', 'k'))).toBe('<Tags><Key>k</Key></Tags>');
  });
});

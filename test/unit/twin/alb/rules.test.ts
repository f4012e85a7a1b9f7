import { describe, expect, it } from 'vitest';
import { certificateHosts, compileRoutes, hostOf, pathOf, redirectLocation, routeOf, withRedirectDefaults } from '../../../../harness/twin/alb/rules.ts';
import type { RuleAction } from '../../../../harness/twin/alb/types.ts';

const fwd = (name: string): RuleAction => ({ type: 'forward', targetGroupArn: name });
const notFound: RuleAction = { type: 'fixed-response', statusCode: '404', contentType: 'text/plain' };

describe('listener rules', () => {
  const table = compileRoutes(
    [
      // Given out of order: priority decides, not the order of the list.
      { priority: 3, conditions: [{ field: 'path-pattern', values: ['/*'] }], actions: [fwd('catch-all')] },
      { priority: 1, conditions: [{ field: 'host-header', values: ['app.example.com'] }, { field: 'path-pattern', values: ['/api', '/api/*'] }], actions: [fwd('api')] },
      { priority: 2, conditions: [{ field: 'host-header', values: ['*.example.com', 'w?w.example.org'] }], actions: [fwd('wild')] },
    ],
    [notFound],
  );

  it('takes the first matching rule by priority, all conditions of a rule together', () => {
    expect(routeOf(table, 'app.example.com', '/api/users')).toEqual(fwd('api'));
    expect(routeOf(table, 'app.example.com', '/api')).toEqual(fwd('api'));
    // Same host, path outside the pattern: the next rule (host wildcard) decides.
    expect(routeOf(table, 'app.example.com', '/apix')).toEqual(fwd('wild'));
    expect(routeOf(table, 'other.test', '/x')).toEqual(fwd('catch-all'));
  });

  it('matches hosts case-insensitively with * and ?, and paths case-sensitively', () => {
    expect(routeOf(table, hostOf('APP.Example.COM:443'), '/api')).toEqual(fwd('api'));
    expect(routeOf(table, 'www.example.org', '/')).toEqual(fwd('wild'));
    expect(routeOf(table, 'wwww.example.org', '/')).toEqual(fwd('catch-all'));
    expect(routeOf(table, 'app.example.com', '/API')).toEqual(fwd('wild'));
  });

  it('falls back to the default action, and special characters in patterns are literal', () => {
    const exact = compileRoutes([{ priority: 1, conditions: [{ field: 'path-pattern', values: ['/a.b', '/c+d?'] }], actions: [fwd('x')] }], [notFound]);
    expect(routeOf(exact, 'h', '/a.b')).toEqual(fwd('x'));
    expect(routeOf(exact, 'h', '/aXb')).toEqual(notFound);
    expect(routeOf(exact, 'h', '/c+de')).toEqual(fwd('x'));
    expect(routeOf(exact, 'h', '/c+d')).toEqual(notFound);
  });

  it('splits the Host header and the request target', () => {
    expect(hostOf('Example.com:8080')).toBe('example.com');
    expect(hostOf('[::1]:80')).toBe('[::1]');
    expect(pathOf('/a/b?x=1')).toBe('/a/b');
  });

  it('builds a redirect Location from #{...}, leaving out the default port', () => {
    const ssl = withRedirectDefaults({ type: 'redirect', statusCode: 'HTTP_301', protocol: 'HTTPS', port: '443' });
    expect(ssl).toMatchObject({ host: '#{host}', path: '/#{path}', query: '#{query}' });
    const req = { protocol: 'http' as const, host: 'app.example.com', port: '80', path: '/a/b', query: 'x=1' };
    expect(redirectLocation(ssl as Extract<RuleAction, { type: 'redirect' }>, req)).toBe('https://app.example.com/a/b?x=1');
    const moved = withRedirectDefaults({ type: 'redirect', statusCode: 'HTTP_302', host: 'new.#{host}', port: '8443', protocol: 'HTTPS', path: '/v2/#{path}' });
    expect(redirectLocation(moved as Extract<RuleAction, { type: 'redirect' }>, { ...req, query: '' })).toBe('https://new.app.example.com:8443/v2/a/b');
  });

  it('names every host of a listener for its certificate, once, lower-cased', () => {
    expect(
      certificateHosts([
        { conditions: [{ field: 'host-header', values: ['B.example.com', '*.a.example.com'] }] },
        { conditions: [{ field: 'host-header', values: ['b.example.com', 'w?w.x.org'] }, { field: 'path-pattern', values: ['/'] }] },
      ]),
    ).toEqual(['*.a.example.com', 'b.example.com']);
  });
});

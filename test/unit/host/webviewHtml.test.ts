import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import Module from 'node:module';
import * as path from 'node:path';

/**
 * Security of the panels: every page GPT Lab shows has a strict CSP and loads only its own bundle, and the webview
 * may read only the bundle and media folders. webviewHtml.ts imports 'vscode', so a minimal stand-in is given.
 */
const ORIGIN = 'https://file+.vscode-resource.vscode-cdn.net';
class Uri {
  constructor(readonly path: string) {}
  static file(p: string) {
    return new Uri(p);
  }
  static joinPath(base: Uri, ...parts: string[]) {
    return new Uri(path.posix.join(base.path, ...parts));
  }
  toString() {
    return `file://${this.path}`;
  }
}
const fakeVscode = { Uri };
const webview = { cspSource: ORIGIN, asWebviewUri: (u: Uri) => `${ORIGIN}${u.path}` };

const SRC = path.resolve(__dirname, '../../../../src');
/** The TypeScript sources of src/host, as text. */
function hostSources(): [string, string][] {
  const out: [string, string][] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) out.push([path.relative(SRC, p), readFileSync(p, 'utf8')]);
    }
  };
  walk(path.join(SRC, 'host'));
  return out;
}

/** Every page a panel declares ({ script: 'x.js', …, css: [...] } in src/host). */
function declaredPages(): { file: string; script: string; css: string[] }[] {
  const pages: { file: string; script: string; css: string[] }[] = [];
  for (const [file, text] of hostSources()) {
    for (const m of text.matchAll(/script:\s*'([^']+)'[\s\S]{0,400}?(?:css:\s*\[([^\]]*)\])?\s*[,}]/g)) {
      const css = [...(m[2] ?? '').matchAll(/'([^']+)'/g)].map((c) => c[1]);
      pages.push({ file, script: m[1], css });
    }
  }
  return pages;
}

type Html = (w: typeof webview, ext: Uri, o: { script: string; title: string; body: string; css?: string[] }) => string;
type Options = (ext: Uri) => { enableScripts?: boolean; localResourceRoots?: Uri[] };

describe('webview security: CSP and resource roots of every panel', () => {
  let webviewHtml: Html;
  let webviewOptions: Options;
  const M = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
  const resolve = M._resolveFilename;
  before(async () => {
    M._resolveFilename = function (request: string, ...rest: unknown[]) {
      return request === 'vscode' ? 'vscode' : resolve.call(this, request, ...rest);
    };
    require.cache.vscode = { id: 'vscode', filename: 'vscode', loaded: true, exports: fakeVscode } as NodeJS.Module;
    const mod = (await import('../../../src/host/panels/webviewHtml.js')) as unknown as {
      webviewHtml: Html;
      webviewOptions: Options;
    };
    ({ webviewHtml, webviewOptions } = mod);
  });
  after(() => {
    M._resolveFilename = resolve;
    delete require.cache.vscode;
  });

  const ext = Uri.file('/ext');

  it('finds the pages of all panels, each going through the one panel base class', () => {
    // Every webview bundle esbuild makes (dist/webview/<name>.js) is some panel's page.
    const bundles = [
      ...readFileSync(path.join(SRC, '..', 'esbuild.mjs'), 'utf8').matchAll(/dist\/webview\/([\w-]+\.js)/g),
    ];
    const scripts = declaredPages().map((p) => p.script);
    assert.ok(bundles.length >= 3);
    for (const [, bundle] of bundles) assert.ok(scripts.includes(bundle), `no panel page found for ${bundle}`);
    for (const [file, text] of hostSources()) {
      // Only the base class makes panels and sets their HTML and options, so no panel can skip the policy.
      if (file === path.join('host', 'panels', 'panel.ts') || file === path.join('host', 'panels', 'webviewHtml.ts'))
        continue;
      assert.doesNotMatch(text, /createWebviewPanel|\.webview\.html\s*=|webview\.options\s*=|enableScripts/, file);
    }
    const base = readFileSync(path.join(SRC, 'host', 'panels', 'panel.ts'), 'utf8');
    assert.match(base, /createWebviewPanel\([^)]*webviewOptions\(/);
    assert.match(base, /webview\.html = webviewHtml\(/);
    assert.match(base, /webview\.options = webviewOptions\(/);
  });

  it('every page: default-src none, scripts only by a fresh nonce, no eval, nothing remote', () => {
    const nonces = new Set<string>();
    for (const page of declaredPages()) {
      const html = webviewHtml(webview, ext, {
        script: page.script,
        title: 'T',
        body: '<main id="app"></main>',
        css: page.css,
      });
      const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)?.[1];
      assert.ok(csp, `${page.file}: no CSP`);
      const directives = new Map(
        csp.split(';').map((d) => {
          const [name, ...values] = d.trim().split(/\s+/);
          return [name, values] as [string, string[]];
        }),
      );
      assert.deepEqual(directives.get('default-src'), ["'none'"], page.file);
      const scriptSrc = directives.get('script-src') ?? [];
      assert.equal(scriptSrc.length, 1, `${page.file}: script-src ${scriptSrc}`);
      const nonce = /^'nonce-([A-Za-z0-9+/=]{22,})'$/.exec(scriptSrc[0])?.[1];
      assert.ok(nonce, `${page.file}: script-src ${scriptSrc[0]}`);
      assert.ok(!nonces.has(nonce), 'a nonce was reused');
      nonces.add(nonce);
      assert.doesNotMatch(csp, /unsafe-eval|wasm-unsafe-eval|\*|http:/, page.file);
      for (const [name, values] of directives) {
        for (const v of values) {
          assert.ok(v.startsWith("'") || v === ORIGIN || v === 'data:', `${page.file}: ${name} allows ${v}`);
        }
      }
      // Every script carries the nonce and is the page's own bundle; no inline handlers.
      const scripts = [...html.matchAll(/<script\b([^>]*)>/g)].map((m) => m[1]);
      assert.equal(scripts.length, 1, page.file);
      assert.ok(scripts[0].includes(`nonce="${nonce}"`), scripts[0]);
      assert.ok(scripts[0].includes(`src="${ORIGIN}/ext/dist/webview/${page.script}"`), scripts[0]);
      assert.doesNotMatch(html, /\son[a-z]+=/i, `${page.file}: inline event handler`);
      // Every URL is the webview's own resource origin, inside the bundle or media folder (the CSP checked above).
      for (const url of html.replace(csp, '').match(/\b(?:https?|wss?|ftp):\/\/[^\s"'<>]+/g) ?? []) {
        assert.ok(
          url.startsWith(`${ORIGIN}/ext/dist/`) || url.startsWith(`${ORIGIN}/ext/media/`),
          `${page.file}: ${url}`,
        );
      }
    }
  });

  it('the webview may read only the bundle and media folders', () => {
    const o = webviewOptions(ext);
    assert.equal(o.enableScripts, true);
    assert.deepEqual(
      o.localResourceRoots?.map((u) => u.path),
      ['/ext/dist', '/ext/media'],
    );
  });
});

import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';

/** Options every GPT Lab panel uses: scripts on, resources only from the bundle and media folders. */
export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return {
    enableScripts: true,
    retainContextWhenHidden: false,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media')],
  };
}

/** A page with a strict CSP (default-src 'none', scripts by nonce) that loads one bundled script. */
export function webviewHtml(
  webview: vscode.Webview,
  extensionUri: vscode.Uri,
  opts: { script: string; title: string; body: string; css?: string[] },
): string {
  const nonce = randomBytes(16).toString('base64');
  const script = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview', opts.script));
  const css = ['panel.css', ...(opts.css ?? [])].map((f) =>
    webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', f)),
  );
  const csp = [
    "default-src 'none'",
    `img-src ${webview.cspSource} data:`,
    `style-src ${webview.cspSource} 'unsafe-inline'`,
    `font-src ${webview.cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
${css.map((href) => `<link rel="stylesheet" href="${href}">`).join('\n')}
<title>${opts.title}</title>
</head>
<body>
${opts.body}
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
}

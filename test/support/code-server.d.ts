// Types of code-server.js (plain JS so that the integration runner needs no build).
import type { ChildProcess } from 'node:child_process';
import type { Browser, LaunchOptions } from 'playwright-core';

export const CODE_SERVER_VERSION: string;
export const INSTALL_HINT: string;
export const repoRoot: string;
export const artifactsDir: string;
export const fixtureWorkspace: string;

export interface CodeServer {
  url: string;
  port: number;
  /** The server's pid, also its process group (the extension host and the worker live in it). */
  pid: number;
  userDataDir: string;
  extensionsDir: string;
  process: ChildProcess;
  /** Kills the whole process group (TERM, then KILL). */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** A fresh folder for user-data/ and extensions/. */
  dir: string;
  /** The workspace folder to open. */
  folder: string;
  settings?: Record<string, unknown>;
  /** Reaches the extension host. */
  env?: Record<string, string>;
  logFile: string;
  beforeStart?: (paths: { userDataDir: string; extensionsDir: string }) => void;
}

export function findCodeServer(): string;
export function findChromium(): string;
export function checkPrerequisites(): { codeServer: string; chromium: string };
export function quietSettings(extra?: Record<string, unknown>): Record<string, unknown>;
export function copyFixture(dest: string, from?: string): string;
export function freePort(): Promise<number>;
export function startCodeServer(o: StartOptions): Promise<CodeServer>;
export function chromiumLaunchOptions(): LaunchOptions;
export function launchChromium(): Promise<Browser>;
export function workbenchUrl(server: CodeServer, folder: string, payload?: [string, string][]): string;
export function remoteUri(server: CodeServer, absPath: string): string;
export function processesMatching(needle: string): { pid: number; ppid: number; pgid: number; args: string }[];
export function sleep(ms: number): Promise<void>;

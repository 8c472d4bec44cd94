import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The settings of one profile in the shared AWS `config` file that the agent follows, as written there. */
export interface ProfileSettings {
  region?: string;
  endpoint_url?: string;
  ca_bundle?: string;
}

/** The shared AWS files under a `credentials_path` directory. */
export function sharedFilesIn(credentialsPath: string): { filepath: string; configFilepath: string } {
  return { filepath: join(credentialsPath, 'credentials'), configFilepath: join(credentialsPath, 'config') };
}

/**
 * The sections of an INI file and their `key = value` pairs; empty when the file does not exist or cannot be read
 * (a profile may come from the environment alone). Reads synchronously: the files are a few hundred bytes and
 * config validation and client construction stay synchronous.
 */
export function readIni(path: string): Map<string, Record<string, string>> {
  const sections = new Map<string, Record<string, string>>();
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return sections;
  }
  let current: Record<string, string> | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    if (line.startsWith('[') && line.endsWith(']')) {
      const name = line.slice(1, -1).trim();
      current = sections.get(name) ?? {};
      sections.set(name, current);
      continue;
    }
    const eq = line.indexOf('=');
    // Indented lines are sub-settings (`s3 =` blocks): the agent reads only top-level keys.
    if (current === undefined || eq < 0 || /^\s/.test(raw)) continue;
    current[line.slice(0, eq).trim().toLowerCase()] = line.slice(eq + 1).trim();
  }
  return sections;
}

/** `profile name` -> `name` (quotes allowed, as the SDK allows them); undefined for other section kinds. */
export function profileName(section: string): string | undefined {
  const match = /^profile\s+(["']?)(.+)\1$/.exec(section);
  return match?.[2]?.trim();
}

/**
 * The `config` file's section for `profile` (`[profile name]`, or `[default]` for `default`), as the SDK finds it.
 * `profile` undefined means `default`, which is what the SDK's default chain reads.
 */
export function profileSettings(credentialsPath: string, profile = 'default'): ProfileSettings {
  const sections = readIni(sharedFilesIn(credentialsPath).configFilepath);
  let found: Record<string, string> | undefined;
  for (const [section, values] of sections) {
    if ((section === 'default' && profile === 'default') || profileName(section) === profile) found = values;
  }
  const settings: ProfileSettings = {};
  for (const key of ['region', 'endpoint_url', 'ca_bundle'] as const) {
    const value = found?.[key];
    if (value !== undefined && value !== '') settings[key] = value;
  }
  return settings;
}

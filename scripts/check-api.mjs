// Checks the built package's public API with API Extractor: every type that an entry point's
// exports take or return must be exported from that same entry point (ae-forgotten-export), so a
// user can name every type they are handed. Run after `npm run build`.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor';

const root = resolve(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8'));
const entries = Object.entries(pkg.exports).filter(([, target]) => typeof target === 'object');
let failures = 0;
for (const [name, target] of entries) {
  const config = ExtractorConfig.prepare({
    configObject: {
      projectFolder: root,
      mainEntryPointFilePath: resolve(root, target.types),
      compiler: { tsconfigFilePath: resolve(root, 'tsconfig.build.json') },
      apiReport: { enabled: false },
      docModel: { enabled: false },
      dtsRollup: { enabled: false },
      tsdocMetadata: { enabled: false },
      messages: {
        compilerMessageReporting: { default: { logLevel: 'warning' } },
        extractorMessageReporting: {
          default: { logLevel: 'none' },
          'ae-forgotten-export': { logLevel: 'error', addToApiReportFile: false },
        },
        tsdocMessageReporting: { default: { logLevel: 'none' } },
      },
    },
    configObjectFullPath: resolve(root, 'api-extractor.json'),
    packageJsonFullPath: resolve(root, 'package.json'),
  });
  const messages = [];
  const result = Extractor.invoke(config, {
    localBuild: true,
    messageCallback(message) {
      if (message.logLevel === 'error' || message.logLevel === 'warning') messages.push(message.text);
      message.handled = true;
    },
  });
  const label = name === '.' ? 'posthorn' : `posthorn/${name.slice(2)}`;
  if (result.errorCount > 0 || messages.length > 0) {
    failures++;
    console.error(`${label}:`);
    for (const text of messages) console.error(`  ${text}`);
  } else {
    console.log(`${label}: every type its exports use is exported`);
  }
}
if (failures > 0) process.exit(1);

// The suggested commands the CLI prints (e.g. site suggest-template's "next:") must paste into a
// shell as they are, also for a folder with spaces or quotes.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { shellArg } from '../../cli/format';

describe('shellArg', () => {
  it('leaves plain paths alone and quotes the rest so that the shell gives back the same word', () => {
    expect(shellArg('/data/site-a/images_2026.v1')).toBe('/data/site-a/images_2026.v1');
    for (const word of ['/data/Clinic A', "/data/O'Brien's scans", 'a$b`c"d', '*', '']) {
      expect(shellArg(word)).not.toBe(word);
      expect(execFileSync('bash', ['-c', `printf %s ${shellArg(word)}`], { encoding: 'utf8' })).toBe(word);
    }
  });
});

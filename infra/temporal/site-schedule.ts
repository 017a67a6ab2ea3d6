/**
 * A site's schedule on the server (`cc2d-site-<site>`), described, or undefined when the site has
 * none: the one place that tells "no schedule" from other errors, for `cc2d schedule` and for
 * `cc2d site remove` (refused while a schedule would go on starting runs).
 */
import { ScheduleNotFoundError, type Client, type ScheduleDescription, type ScheduleHandle } from '@temporalio/client';
import { scheduleIdOf } from '../config/names';

export async function findSiteSchedule(client: Client, site: string): Promise<{ handle: ScheduleHandle; description: ScheduleDescription } | undefined> {
  const handle = client.schedule.getHandle(scheduleIdOf(site));
  try {
    return { handle, description: await handle.describe() };
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return undefined;
    throw err;
  }
}

/**
 * The Memory Doctor side panel: the container and its commands. Its parts
 * live in `holders/`, `fixes/` and `timeline/`; what they share in
 * `shared/`.
 */

export { addHoldersCommands, HoldersCommandIDs } from './commands';
export { holdersIcon } from './icon';
export { MemoryDoctorPanel, PANEL_CLASS, PANEL_ID } from './panel';

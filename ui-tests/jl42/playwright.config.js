/**
 * The shared specs (copied into ./tests by `make test-ui-jl42`, so that they
 * find this folder's Galata 5.2.4: Galata's in-page half comes from the
 * server's jupyterlab, and 5.6's client cannot drive a 4.2 server) against
 * JupyterLab 4.2 from .venv-jl42 with the production wheel, port 8890.
 */
const main = require('../playwright.config');

const PORT = process.env.MD_JL42_PORT || '8890';
const VENV = process.env.MD_JL42_VENV || '../../.venv-jl42';

module.exports = {
  ...main,
  testDir: './tests',
  // What must hold on the oldest JupyterLab; a new spec joins on purpose. The
  // timeline is checked in the main job (its plot is fragile on any version).
  testMatch: ['badges', 'holders', 'fixes', 'live', 'magics'].map(
    name => `**/${name}.spec.ts`
  ),
  use: {
    ...main.use,
    baseURL: `http://localhost:${PORT}`
  },
  webServer: {
    command: `${VENV}/bin/jupyter lab --config ../jupyter_server_test_config.py --ServerApp.port=${PORT}`,
    url: `http://localhost:${PORT}/lab`,
    timeout: 180 * 1000,
    reuseExistingServer: false
  }
};

/**
 * Galata against Notebook 7 (.venv-nb7: notebook 7.6 and the production
 * wheel), port 8892. Notebook 7.6 runs on JupyterLab 4.6, so this folder's
 * Galata 5.6 fits. Notebook 7 has no /lab: appPath '' and autoGoto false.
 */
const main = require('./playwright.config');

const PORT = process.env.MD_NB7_PORT || '8892';
const VENV = process.env.MD_NB7_VENV || '../.venv-nb7';

module.exports = {
  ...main,
  testDir: './notebook7',
  use: {
    ...main.use,
    baseURL: `http://localhost:${PORT}`,
    appPath: '',
    autoGoto: false
  },
  webServer: {
    command: `${VENV}/bin/jupyter notebook --config jupyter_server_test_config.py --ServerApp.port=${PORT}`,
    url: `http://localhost:${PORT}/tree`,
    timeout: 180 * 1000,
    reuseExistingServer: false
  }
};

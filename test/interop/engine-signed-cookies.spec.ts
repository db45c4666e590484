import { defineEngineSuite } from './engines.suite.js';

defineEngineSuite({ engine: 'signed_cookies', title: 'the cookie is the session' });

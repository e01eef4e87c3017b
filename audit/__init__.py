"""Bastion seen as attackers see it: the scanners of ``make audit`` and their targets.

* :mod:`audit.observatory` scores pages with the MDN HTTP Observatory (npm
  package in ``audit/observatory/``);
* :mod:`audit.semgrep` runs semgrep with the local rules ``audit/semgrep.yml``;
* :mod:`audit.scanners` runs sqlmap and wapiti (Debian packages);
* ``audit/run.py`` (``make audit``) starts the deployment stack of
  ``tests/deployment/stack.py`` and runs them all.
"""

project = 'python-gpuclient'
copyright = 'python-gpuclient developers'
extensions = ['cliff.sphinxext', 'reno.sphinxext']
master_doc = 'index'
exclude_patterns = ['_build']
html_theme = 'alabaster'
# cliff's autoprogram-cliff renders the commands from their entry points.
autoprogram_cliff_application = 'openstack'

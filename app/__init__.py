"""Customer & Organization Management backend.

Importing the package imports nothing: the application is built by
`app.factory.create_app()`, and the domain (`app.domain`) never imports Flask.
"""

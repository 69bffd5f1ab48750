"""Public PNG images: the predecessor's grid plots and runs' charts (``GET /images/{name}``).

Registered with one line in ``create_app`` (:class:`app.images.plugin.ImagesPlugin`). This
package module imports nothing, so the run service can use :mod:`app.images.charts` without
importing the route (which depends on the runs runtime).
"""

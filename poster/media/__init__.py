"""Learn what a feed's media really is, and make images a destination cannot take into ones it can.

``probe`` asks each media URL for its first bytes (type, size, dimensions), ``cache`` keeps the
answers in the state folder, ``convert`` turns an image into a JPEG that fits, ``jpegstore``
keeps and serves the converted files, and ``stage`` runs all of it between select and render.
"""

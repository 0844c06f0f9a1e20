"""(being written)"""
from . import Suite


class BuildahSuite(Suite):
    name = "buildah"
    component = "buildah"

    def units(self, settings):
        return []

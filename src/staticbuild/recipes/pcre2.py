from ..builders import Autotools
from ..recipe import Recipe, Upstream

recipe = Recipe(
    name="pcre2",
    summary="PCRE2: regular expressions for glib (GRegex)",
    homepage="https://github.com/PCRE2Project/pcre2",
    license="BSD-3-Clause",
    upstream=(
        Upstream(url="https://github.com/PCRE2Project/pcre2/releases/download/pcre2-{version}/pcre2-{version}.tar.gz"),
        Upstream(debian=("pcre2", "pcre2_{version}.orig.tar.gz")),
    ),
    builder=Autotools(configure_args=("--enable-pcre2-8", "--disable-pcre2-16", "--disable-pcre2-32",
                                      "--disable-pcre2grep-libz", "--disable-pcre2grep-libbz2")),
)

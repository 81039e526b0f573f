"""Tell a phone number's country from its calling code, to price it with the ``rates`` table.

The table keys are ISO 3166 codes, as ``rates`` and the ``im/send`` reply use them. Codes
shared by several countries name the largest one (1: us, 7: ru), except Kazakhstan's 76/77;
a number whose code is not listed has no country and is priced at the dearest known rate.
"""

from __future__ import annotations

from collections.abc import Mapping

_TABLE = (
    "1 us|7 ru|76 kz|77 kz|20 eg|27 za|30 gr|31 nl|32 be|33 fr|34 es|36 hu|39 it|40 ro|41 ch|"
    "43 at|44 gb|45 dk|46 se|47 no|48 pl|49 de|51 pe|52 mx|53 cu|54 ar|55 br|56 cl|57 co|58 ve|"
    "60 my|61 au|62 id|63 ph|64 nz|65 sg|66 th|81 jp|82 kr|84 vn|86 cn|90 tr|91 in|92 pk|93 af|"
    "94 lk|95 mm|98 ir|212 ma|213 dz|216 tn|218 ly|234 ng|254 ke|351 pt|352 lu|353 ie|354 is|"
    "356 mt|357 cy|358 fi|359 bg|370 lt|371 lv|372 ee|373 md|374 am|375 by|376 ad|377 mc|"
    "380 ua|381 rs|382 me|385 hr|386 si|387 ba|389 mk|420 cz|421 sk|423 li|852 hk|880 bd|"
    "886 tw|961 lb|962 jo|963 sy|964 iq|965 kw|966 sa|968 om|970 ps|971 ae|972 il|973 bh|"
    "974 qa|976 mn|992 tj|993 tm|994 az|995 ge|996 kg|998 uz"
)
CODES: Mapping[str, str] = dict(entry.split(" ") for entry in _TABLE.split("|"))
"""Calling code -> ISO 3166 country code."""


def country_of(phone: str) -> str | None:
    """Return the country of an international ``phone`` (digits only), or None when unknown."""
    for size in (3, 2, 1):
        found = CODES.get(phone[:size])
        if found is not None:
            return found
    return None

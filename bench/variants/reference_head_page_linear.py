"""reference, but vcompound_head_page() forgets vmalloc addresses.

A slip a developer makes when converting a user: the lookup of the head
page goes through virt_to_page() for every address, which is right only
for the linear map, so a virtually mapped object resolves to a wrong page.
"""
BASE = "reference"


def vcompound_head_page(k, x):
    """The head of the object holding x, linear map only."""
    page = k.virt_to_page(x)
    return None if page is None else k.compound_head(page)


REPLACE = [vcompound_head_page]

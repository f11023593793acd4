"""Open data: the awards as a 360Giving Data Standard package (`threesixtygiving`), read
from the `awards` read model (`source`). The standard's schemas are in `schema/`, as
published by 360Giving, with their licence."""

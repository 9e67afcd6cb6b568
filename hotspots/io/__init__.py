"""Reading and writing: every byte that enters or leaves hotspots goes through this layer.

Import from here, not from the modules behind it: ``from hotspots.io import
load_incidents, InputSpec``. What is listed in ``__all__`` is the layer's interface to the
other stages and to users; anything else in the modules is how it is done, and may change.

Reading incidents
    :func:`load_incidents` turns police.uk files, partner exports (:class:`ColumnMapping`)
    and ingested datasets into the canonical table (:mod:`hotspots.schema`) and its
    rejects, within :class:`ReadLimits`; :func:`restrict_loaded` filters it later.
Datasets
    The Parquet folders written by ``hotspots ingest``: :func:`read_incident_dataset`,
    :func:`dataset_info`, :func:`value_counts` and the part writers the ingest uses.
Reference tables
    Postcode centroids, Census residents and the 2011→2021 LSOA changes, police.uk
    neighbourhood boundaries.
Writing
    One writer per format (:func:`write_csv` guards spreadsheet formulas), each writing
    atomically, and a run's folder published whole (:func:`staging_folder`,
    :func:`publish_folder`) with safe names (:func:`safe_slug`, :func:`output_path`).

Examples
--------
>>> from hotspots.io import InputSpec
>>> InputSpec.police_uk("data/leicestershire").paths
('data/leicestershire',)
"""

from hotspots.io._atomic import (
    publish_folder,
    remove_stale,
    staging_folder,
    write_bytes_atomic,
    write_text_atomic,
)
from hotspots.io._frames import mode_per_group, sorted_categorical
from hotspots.io._load import (
    InputSpec,
    LoadResult,
    empty_rejects,
    load_incidents,
    make_rejects,
    restrict_loaded,
)
from hotspots.io._names import output_path, safe_slug, unique_slugs
from hotspots.io._neighbourhoods import is_police_neighbourhoods, read_police_neighbourhoods
from hotspots.io._parquet import (
    DEFAULT_PARTITIONS,
    FilterValue,
    dataset_info,
    is_incident_dataset,
    latest_month,
    read_incident_dataset,
    to_arrow,
    value_counts,
    value_summary,
    with_partition_columns,
    write_marker,
    write_parts,
)
from hotspots.io._population import (
    POPULATION_ATTRIBUTION,
    POPULATION_VINTAGE,
    read_lsoa_changes,
    read_population,
)
from hotspots.io._postcodes import read_postcode_table
from hotspots.io._progress import progress
from hotspots.io._raster import write_geotiff
from hotspots.io._readers import POLICE_UK_COLUMNS, ColumnMapping, read_mapped, read_police_uk
from hotspots.io._sources import EMBEDDED_POLICE_UK, SourceFile, embedded_police_uk, expand_paths
from hotspots.io._text import ReadLimits, require_regular, shorten
from hotspots.io._writers import write_csv, write_geojson, write_gpkg, write_json

__all__ = [
    "DEFAULT_PARTITIONS",
    "EMBEDDED_POLICE_UK",
    "POLICE_UK_COLUMNS",
    "POPULATION_ATTRIBUTION",
    "POPULATION_VINTAGE",
    "ColumnMapping",
    "FilterValue",
    "InputSpec",
    "LoadResult",
    "ReadLimits",
    "SourceFile",
    "dataset_info",
    "embedded_police_uk",
    "empty_rejects",
    "expand_paths",
    "is_incident_dataset",
    "is_police_neighbourhoods",
    "latest_month",
    "load_incidents",
    "make_rejects",
    "output_path",
    "progress",
    "publish_folder",
    "read_incident_dataset",
    "read_lsoa_changes",
    "read_mapped",
    "read_police_neighbourhoods",
    "read_police_uk",
    "read_population",
    "read_postcode_table",
    "remove_stale",
    "require_regular",
    "restrict_loaded",
    "safe_slug",
    "shorten",
    "mode_per_group",
    "sorted_categorical",
    "staging_folder",
    "to_arrow",
    "unique_slugs",
    "value_counts",
    "value_summary",
    "with_partition_columns",
    "write_bytes_atomic",
    "write_csv",
    "write_geojson",
    "write_geotiff",
    "write_gpkg",
    "write_json",
    "write_marker",
    "write_parts",
    "write_text_atomic",
]

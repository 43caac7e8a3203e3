"""How `cim ingest --cluster` splits a night: per file, and a large model by chunks only where that helps."""

from cim.cluster import chunk_spread


def test_a_city_night_of_many_similar_files_runs_each_file_as_one_task():
    assert chunk_spread([5_000_000, 4_000_000, 6_000_000, 5_500_000], threads=2) == [1, 1, 1, 1]


def test_one_file_on_a_two_worker_cluster_spreads_its_chunks_over_both():
    assert chunk_spread([50_000_000], threads=2) == [2]


def test_a_file_larger_than_an_even_share_of_the_night_spreads_its_chunks():
    assert chunk_spread([90_000_000, 1_000_000, 1_000_000, 1_000_000], threads=2) == [2, 1, 1, 1]


def test_fewer_files_than_threads_spread_every_file():
    assert chunk_spread([1_000, 2_000], threads=4) == [4, 4]

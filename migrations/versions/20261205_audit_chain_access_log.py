"""platform: the audit trail as a hash chain with where each entry came from; access records (접속기록)

Adds the origin columns (source, origin, ip, user agent) and the chain columns (seq, prev_hash,
entry_hash) to audit_log, drops its foreign key to municipality (a deleted municipality must not rewrite
history), creates access_log (reads of personal data) and audit_chain (one head row per chain, the lock
row appends serialise on), then chains the existing audit entries in id order.

Revision ID: platform_audit_0002
Revises: kt_cctv_0003
Create Date: 2026-12-05
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.hashchain import GENESIS, entry_hash

revision: str = 'platform_audit_0002'
down_revision: str | Sequence[str] | None = 'platform_0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 2000


def _chain_columns() -> list[sa.Column]:
    return [
        sa.Column('source', sa.String(length=10), server_default='system', nullable=False),
        sa.Column('origin', sa.String(length=200), server_default='', nullable=False),
        sa.Column('ip', sa.String(length=45), nullable=True),
        sa.Column('user_agent', sa.String(length=300), nullable=True),
        sa.Column('seq', sa.BigInteger(), nullable=True),
        sa.Column('prev_hash', sa.String(length=64), nullable=True),
        sa.Column('entry_hash', sa.String(length=64), nullable=True),
    ]


def _chain_existing(bind) -> tuple[int, str]:
    audit = sa.table('audit_log', sa.column('id', sa.Integer), sa.column('occurred_at', sa.DateTime(timezone=True)),
                     sa.column('actor', sa.String), sa.column('action', sa.String), sa.column('object_type', sa.String),
                     sa.column('object_id', sa.String), sa.column('municipality_id', sa.Integer),
                     sa.column('before', sa.JSON), sa.column('after', sa.JSON), sa.column('source', sa.String),
                     sa.column('origin', sa.String), sa.column('ip', sa.String), sa.column('user_agent', sa.String),
                     sa.column('seq', sa.BigInteger), sa.column('prev_hash', sa.String),
                     sa.column('entry_hash', sa.String))
    hashed = [c for c in audit.c if c.name not in ('seq', 'prev_hash', 'entry_hash')]
    seq, prev, last_id = 0, GENESIS, 0
    while True:
        rows = bind.execute(sa.select(*hashed).where(audit.c.id > last_id).order_by(audit.c.id).limit(BATCH)
                            ).mappings().all()
        if not rows:
            return seq, prev
        updates = []
        for row in rows:
            seq += 1
            digest = entry_hash(prev, seq, dict(row))
            updates.append({'b_id': row['id'], 'seq': seq, 'prev_hash': prev, 'entry_hash': digest})
            prev, last_id = digest, row['id']
        bind.execute(audit.update().where(audit.c.id == sa.bindparam('b_id')).values(
            seq=sa.bindparam('seq'), prev_hash=sa.bindparam('prev_hash'), entry_hash=sa.bindparam('entry_hash')),
            updates)


def upgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_constraint('fk_audit_log_municipality_id_municipality', type_='foreignkey')
        for column in _chain_columns():
            batch_op.add_column(column)
        batch_op.create_unique_constraint(batch_op.f('uq_audit_log_seq'), ['seq'])

    op.create_table('access_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject_type', sa.String(length=60), nullable=False),
    sa.Column('subject_id', sa.String(length=60), nullable=False),
    sa.Column('data_subject', sa.String(length=120), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=True),
    *_chain_columns(),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_log')),
    sa.UniqueConstraint('seq', name=op.f('uq_access_log_seq'))
    )
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_log_municipality_id'), ['municipality_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_log_occurred_at'), ['occurred_at'], unique=False)

    chain = op.create_table('audit_chain',
    sa.Column('name', sa.String(length=20), nullable=False),
    sa.Column('head_seq', sa.BigInteger(), nullable=False),
    sa.Column('head_hash', sa.String(length=64), nullable=False),
    sa.Column('genesis_seq', sa.BigInteger(), nullable=False),
    sa.Column('genesis_hash', sa.String(length=64), nullable=False),
    sa.Column('purged_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_audit_chain'))
    )
    head_seq, head_hash = _chain_existing(op.get_bind())
    op.bulk_insert(chain, [
        {'name': 'audit_log', 'head_seq': head_seq, 'head_hash': head_hash, 'genesis_seq': 0, 'genesis_hash': GENESIS},
        {'name': 'access_log', 'head_seq': 0, 'head_hash': GENESIS, 'genesis_seq': 0, 'genesis_hash': GENESIS},
    ])


def downgrade() -> None:
    op.drop_table('audit_chain')
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_log_occurred_at'))
        batch_op.drop_index(batch_op.f('ix_access_log_municipality_id'))
    op.drop_table('access_log')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_audit_log_seq'), type_='unique')
        for column in reversed(_chain_columns()):
            batch_op.drop_column(column.name)
        batch_op.create_foreign_key('fk_audit_log_municipality_id_municipality', 'municipality',
                                    ['municipality_id'], ['id'], ondelete='SET NULL')

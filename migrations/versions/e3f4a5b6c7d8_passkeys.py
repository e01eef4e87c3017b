"""passkeys

`passkey`: the WebAuthn credentials of each account (credential id, COSE
public key, signature counter, transports, backup flags, the user's name for
it, when it was made and last used).  Removed with the account.

Revision ID: e3f4a5b6c7d8
Revises: d2e3f4a5b6c7
Create Date: 2026-12-08

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e3f4a5b6c7d8'
down_revision = 'd2e3f4a5b6c7'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('passkey',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('credential_id', sa.LargeBinary(length=1023), nullable=False),
    sa.Column('public_key', sa.LargeBinary(), nullable=False),
    sa.Column('user_handle', sa.LargeBinary(length=64), nullable=False),
    sa.Column('sign_count', sa.BigInteger(), nullable=False),
    sa.Column('transports', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('aaguid', sa.String(length=36), nullable=False),
    sa.Column('backup_eligible', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('backed_up', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_passkey_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_passkey')),
    sa.UniqueConstraint('credential_id', name=op.f('uq_passkey_credential_id'))
    )
    with op.batch_alter_table('passkey', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_passkey_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('passkey', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_passkey_user_id'))

    op.drop_table('passkey')
